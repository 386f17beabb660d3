package client

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/group"
	"github.com/skymsg/sky/client/store"
)

// TestRequestLimits: strangers cannot grow the store without bound. With
// room for two requests of three messages each, a third stranger's message
// is dropped with no session kept (the user's requests are not pushed out),
// a request keeps only its first three messages, rejecting one makes room,
// and accepting a request lifts its message bound.
func TestRequestLimits(t *testing.T) {
	s := startSkyd(t)
	opts := testOptions(nil)
	opts.MaxRequests, opts.MaxRequestMessages = 2, 3
	bob := newUser(t, s, opts)
	b := bob.c.ID()
	strangers := make([]*user, 3)
	for i := range strangers {
		strangers[i] = newUser(t, s, testOptions(nil))
	}
	s0, s1, s2 := strangers[0], strangers[1], strangers[2]

	for i := range 5 {
		s0.send(b, fmt.Sprint("s0 ", i))
	}
	s0.flush()
	got, drops := textsAndDrops(t, bob, 3, 2)
	if !eq(got, []string{"s0 0", "s0 1", "s0 2"}) {
		t.Fatalf("bob got %q", got)
	}
	for _, d := range drops {
		if d.From != s0.c.ID() || !strings.Contains(d.Reason, "beyond the 3 a message request keeps") {
			t.Fatalf("dropped %+v", d)
		}
	}

	s1.send(b, "s1 hello")
	s1.flush()
	if got := texts(t, bob, 1); got[0] != "s1 hello" {
		t.Fatalf("bob got %q", got)
	}

	s2.send(b, "s2 hello")
	s2.flush()
	d := next(t, bob, func(e *DroppedEvent) bool { return e.From == s2.c.ID() })
	if !strings.Contains(d.Reason, "while 2 wait") {
		t.Fatalf("dropped %+v", d)
	}
	reqs, err := bob.c.Requests()
	if err != nil || len(reqs) != 2 || reqs[0].ID != s0.c.ID() || reqs[0].Messages != 3 || reqs[1].ID != s1.c.ID() {
		t.Fatalf("requests %+v, %v", reqs, err)
	}
	if h, err := bob.c.History(s2.c.ID(), 0); err != nil || len(h) != 0 {
		t.Fatalf("history of the dropped stranger: %d messages, %v", len(h), err)
	}
	if err := bob.c.core.View(func(tx *store.Tx) error {
		devs, err := tx.SessionDevices(s2.c.ID())
		if err == nil && len(devs) != 0 {
			err = fmt.Errorf("bob kept a session with the stranger he had no room for: devices %v", devs)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}

	// Rejecting one makes room: the stranger's next message (still a first
	// message on their side) starts a request.
	if err := bob.c.Reject(s1.c.ID()); err != nil {
		t.Fatal(err)
	}
	s2.send(b, "s2 again")
	s2.flush()
	m := next(t, bob, func(e *MessageEvent) bool { return true }).Message
	if m.From != s2.c.ID() || m.Text != "s2 again" || !m.Request {
		t.Fatalf("bob got %+v", m)
	}

	// An accepted request keeps everything.
	if err := bob.c.Accept(s0.c.ID()); err != nil {
		t.Fatal(err)
	}
	for i := 5; i < 9; i++ {
		s0.send(b, fmt.Sprint("s0 ", i))
	}
	s0.flush()
	if got := texts(t, bob, 4); !eq(got, []string{"s0 5", "s0 6", "s0 7", "s0 8"}) {
		t.Fatalf("bob got %q", got)
	}
}

// TestGroupInvitationLimit: once the user is in MaxGroups groups, a stranger
// cannot add them to another (nothing of it is kept, not even a session),
// a contact still can, and leaving a group makes room again.
func TestGroupInvitationLimit(t *testing.T) {
	s := startSkyd(t)
	opts := testOptions(nil)
	opts.MaxGroups = 1
	bob := newUser(t, s, opts)
	alice := newUser(t, s, testOptions(nil))
	s0 := newUser(t, s, testOptions(nil))
	s1 := newUser(t, s, testOptions(nil))
	b := bob.c.ID()
	if err := bob.c.AddContact(alice.c.ID(), "Alice"); err != nil {
		t.Fatal(err)
	}

	g0, err := s0.c.CreateGroup("first", []string{b})
	if err != nil {
		t.Fatal(err)
	}
	if ch := groupChange(t, bob, g0.ID); !ch.Joined || ch.By != s0.c.ID() {
		t.Fatalf("bob's change %+v", ch)
	}

	g1, err := s1.c.CreateGroup("second", []string{b})
	if err != nil {
		t.Fatal(err)
	}
	d := next(t, bob, func(e *DroppedEvent) bool { return e.From == s1.c.ID() })
	if !strings.Contains(d.Reason, "while you are in 1 groups") {
		t.Fatalf("dropped %+v", d)
	}
	if err := bob.c.core.View(func(tx *store.Tx) error {
		if r, err := group.LoadRecord(tx, mustGroupID(t, g1.ID)); err != nil || r != nil {
			return fmt.Errorf("bob holds the refused group: %v, %v", r, err)
		}
		devs, err := tx.SessionDevices(s1.c.ID())
		if err == nil && len(devs) != 0 {
			err = fmt.Errorf("bob kept a session with the stranger: devices %v", devs)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}

	// A contact can still add him.
	g2, err := alice.c.CreateGroup("desk", []string{b})
	if err != nil {
		t.Fatal(err)
	}
	if ch := groupChange(t, bob, g2.ID); !ch.Joined || ch.By != alice.c.ID() {
		t.Fatalf("bob's change %+v", ch)
	}

	// Leaving both makes room for a stranger's group again.
	for _, g := range []string{g0.ID, g2.ID} {
		if err := bob.c.LeaveGroup(g); err != nil {
			t.Fatal(err)
		}
	}
	g3, err := s1.c.CreateGroup("third", []string{b})
	if err != nil {
		t.Fatal(err)
	}
	if ch := groupChange(t, bob, g3.ID); !ch.Joined || ch.By != s1.c.ID() {
		t.Fatalf("bob's change %+v", ch)
	}
}

// textsAndDrops waits until u has seen n text messages and d dropped
// envelopes, in whatever order their events come (a batch announces its
// drops before the messages it releases).
func textsAndDrops(t testing.TB, u *user, n, d int) ([]string, []*DroppedEvent) {
	t.Helper()
	var texts []string
	var drops []*DroppedEvent
	timeout := time.After(15 * time.Second)
	for len(texts) < n || len(drops) < d {
		select {
		case ev := <-u.sub.Events():
			switch e := ev.(type) {
			case *MessageEvent:
				if e.Message.Kind == KindText {
					texts = append(texts, e.Message.Text)
				}
			case *DroppedEvent:
				drops = append(drops, e)
			}
		case <-timeout:
			t.Fatalf("%s: %d of %d texts and %d of %d drops within 15 s", u.c.ID(), len(texts), n, len(drops), d)
		}
	}
	return texts, drops
}

func mustGroupID(t testing.TB, s string) content.GroupID {
	t.Helper()
	id, err := content.ParseGroupID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
