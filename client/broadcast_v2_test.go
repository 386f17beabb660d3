package client

import (
	"testing"
)

// TestBroadcastV2: a broadcast goes to the recipients that keep the user
// as a contact as one multi-recipient send (sealed sender v2, one
// sender-key message), and to a recipient that does not (no token) as a
// 1:1 message; everyone sees it in the 1:1 conversation with the sender,
// and delivery receipts come back per conversation. Removing a recipient
// gives the list a new key, which the removed one never gets.
func TestBroadcastV2(t *testing.T) {
	s := startSkyd(t)
	ev := startEvil(t, s)
	var log sendLog
	ev.set(nil, log.toServer)
	alice := newUserAt(t, s, ev.url(), testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	carol := newUser(t, s, testOptions(nil))
	dave := newUser(t, s, testOptions(nil)) // never wrote to alice: no token
	erin := newUser(t, s, testOptions(nil))
	a, b, c, d, e := alice.c.ID(), bob.c.ID(), carol.c.ID(), dave.c.ID(), erin.c.ID()
	for _, u := range []*user{bob, carol, erin} {
		u.send(a, "hi alice") // alice becomes their contact and gets their access key
	}
	texts(t, alice, 3)
	if err := alice.c.SaveBroadcastList("desk", []string{b, c, d}); err != nil {
		t.Fatal(err)
	}
	alice.flush()
	log.take()
	ms, err := alice.c.Broadcast("desk", "deadline at six")
	if err != nil || len(ms) != 3 {
		t.Fatalf("broadcast: %d messages, %v", len(ms), err)
	}
	alice.flush()
	for _, u := range []*user{bob, carol, dave} {
		m := next(t, u, func(e *MessageEvent) bool { return e.Message.Kind == KindText }).Message
		if m.From != a || m.Text != "deadline at six" || m.Group != "" || m.Conversation != a {
			t.Fatalf("%s got %+v", u.c.ID(), m)
		}
	}
	multi, single := map[string]int{}, map[string]int{}
	for _, s := range log.take() {
		if s.multi > 0 {
			multi[s.to]++
		} else {
			single[s.to]++
		}
	}
	// bob and carol: their sender key (1:1), then the text in one v2 send;
	// dave: the text as a 1:1 message.
	if multi[b] != 1 || multi[c] != 1 || multi[d] != 0 || single[d] == 0 {
		t.Fatalf("multi-recipient copies %v, single sends %v", multi, single)
	}
	for _, peer := range []string{b, c} {
		waitFor(t, "receipt from "+peer, func() bool {
			h, _ := alice.c.History(peer, 0)
			return len(h) > 0 && h[len(h)-1].Text == "deadline at six" && h[len(h)-1].State >= Delivered
		})
	}
	if got := historyTexts(t, bob.c, a); !eq(got, []string{">hi alice", "<deadline at six"}) {
		t.Fatalf("bob's conversation with alice: %q", got)
	}

	// Carol is removed (erin added): the next text goes to bob and erin
	// under a new key, in one v2 send; carol gets nothing.
	if err := alice.c.SaveBroadcastList("desk", []string{b, d, e}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.c.Broadcast("desk", "carol is off the list"); err != nil {
		t.Fatal(err)
	}
	alice.flush()
	for _, u := range []*user{bob, dave, erin} {
		if m := next(t, u, func(e *MessageEvent) bool { return e.Message.Kind == KindText }).Message; m.Text != "carol is off the list" {
			t.Fatalf("%s got %q", u.c.ID(), m.Text)
		}
	}
	multi = map[string]int{}
	for _, s := range log.take() {
		if s.to == c {
			t.Fatalf("a send to carol after she was removed: %+v", s)
		}
		if s.multi > 0 {
			multi[s.to]++
		}
	}
	if multi[b] != 1 || multi[e] != 1 {
		t.Fatalf("after the change, multi-recipient copies %v", multi)
	}
}
