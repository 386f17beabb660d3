package client

import (
	"strings"
	"testing"
)

// TestGroupInvitationIsARequest (issue 11 item 4): a stranger who adds the
// user to a group makes a message request: the inviter is listed with the
// group, the group's messages are shown as a request's, and rejecting the
// inviter declines the group. Someone the user rejected who writes in a
// group the user is in is dropped with a reason, not silently.
func TestGroupInvitationIsARequest(t *testing.T) {
	s := startSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	carol := newUser(t, s, testOptions(nil))
	dave := newUser(t, s, testOptions(nil))
	a, b, c, d := alice.c.ID(), bob.c.ID(), carol.c.ID(), dave.c.ID()

	// Bob, a stranger to Carol, adds her to a group and writes in it.
	g, err := bob.c.CreateGroup("offers", []string{c})
	if err != nil {
		t.Fatal(err)
	}
	groupChange(t, carol, g.ID)
	rs, err := carol.c.Requests()
	if err != nil || len(rs) != 1 || rs[0].ID != b || !eq(rs[0].Groups, []string{"offers"}) {
		t.Fatalf("Carol's requests: %+v %v, want Bob's with the group", rs, err)
	}
	if _, err := bob.c.SendGroup(g.ID, "buy now"); err != nil {
		t.Fatal(err)
	}
	if m := next(t, carol, func(e *MessageEvent) bool { return e.Message.Group == g.ID && e.Message.Kind == KindText }); !m.Message.Request || m.Message.Text != "buy now" {
		t.Fatalf("the group's message shown as %+v, want a request's", m.Message)
	}
	if err := carol.c.Reject(b); err != nil {
		t.Fatal(err)
	}
	if gs, err := carol.c.Groups(); err != nil || len(gs) != 0 {
		t.Fatalf("Carol's groups after rejecting the inviter: %+v %v", gs, err)
	}
	if h, err := carol.c.History(g.ID, 0); err != nil || len(h) != 0 {
		t.Fatalf("the declined group's history: %d messages, %v", len(h), err)
	}

	// Alice, Carol's contact, adds her and Dave; Carol rejects Dave's own
	// request; his group messages are then dropped with a reason.
	carol.send(a, "hi")
	texts(t, alice, 1)
	if err := alice.c.AddContact(c, "carol"); err != nil {
		t.Fatal(err)
	}
	g2, err := alice.c.CreateGroup("team", []string{c, d})
	if err != nil {
		t.Fatal(err)
	}
	if ch := groupChange(t, carol, g2.ID); !ch.Joined {
		t.Fatalf("Carol's change: %+v", ch)
	}
	if m := func() []Message { h, _ := carol.c.History(g2.ID, 0); return h }(); len(m) > 0 && m[0].Request {
		t.Fatal("a contact's group shown as a request")
	}
	groupChange(t, dave, g2.ID)
	dave.send(c, "hello carol")
	texts(t, carol, 1)
	if err := carol.c.Reject(d); err != nil {
		t.Fatal(err)
	}
	if _, err := dave.c.SendGroup(g2.ID, "me again"); err != nil {
		t.Fatal(err)
	}
	e := next(t, carol, func(e *DroppedEvent) bool { return e.From == d })
	if !strings.Contains(e.Reason, "team") || !strings.Contains(e.Reason, "rejected") {
		t.Fatalf("Dave's group message dropped with %q", e.Reason)
	}
}

// TestGroupInvitationBounded: a stranger's invitation is bounded as a
// request is: with Options.MaxRequests waiting, it is dropped and the user
// is in no new group.
func TestGroupInvitationBounded(t *testing.T) {
	s := startSkyd(t)
	opts := testOptions(nil)
	opts.MaxRequests = 1
	carol := newUser(t, s, opts)
	bob := newUser(t, s, testOptions(nil))
	erin := newUser(t, s, testOptions(nil))
	c := carol.c.ID()
	erin.send(c, "a waiting request")
	texts(t, carol, 1)
	if _, err := bob.c.CreateGroup("spam", []string{c}); err != nil {
		t.Fatal(err)
	}
	e := next(t, carol, func(e *DroppedEvent) bool { return e.From == bob.c.ID() })
	if !strings.Contains(e.Reason, "request") {
		t.Fatalf("dropped with %q", e.Reason)
	}
	if gs, _ := carol.c.Groups(); len(gs) != 0 {
		t.Fatalf("Carol is in %d groups", len(gs))
	}
}
