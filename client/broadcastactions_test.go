package client

import (
	"errors"
	"testing"

	"github.com/skymsg/sky/client/actions"
)

// TestBroadcastActions: the author edits and deletes for everyone a
// broadcast, by any copy's ID: every recipient's copy changes, and only
// for recent broadcasts of that list.
func TestBroadcastActions(t *testing.T) {
	s := startSkyd(t)
	clk := newClock()
	alice := newUser(t, s, testOptions(clk))
	bob := newUser(t, s, testOptions(clk))
	carol := newUser(t, s, testOptions(clk))
	a, b, c := alice.c.ID(), bob.c.ID(), carol.c.ID()
	for _, u := range []*user{bob, carol} {
		if err := u.c.AddContact(a, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	if err := alice.c.SaveBroadcastList("desk", []string{b, c}); err != nil {
		t.Fatal(err)
	}
	ms, err := alice.c.Broadcast("desk", "meeting at 5")
	if err != nil || len(ms) != 2 {
		t.Fatalf("broadcast: %v, %v", ms, err)
	}
	alice.flush()
	for _, u := range []*user{bob, carol} {
		next(t, u, func(e *MessageEvent) bool { return e.Message.Text == "meeting at 5" })
	}

	if err := alice.c.EditBroadcast("desk", ms[1].ID, "meeting at 6"); err != nil {
		t.Fatal(err)
	}
	alice.flush()
	for _, u := range []*user{bob, carol} {
		next(t, u, func(e *ActionEvent) bool { return e.Action == "edit" && e.Text == "meeting at 6" && e.By == a })
	}
	if err := alice.c.UnsendBroadcast("desk", ms[0].ID); err != nil {
		t.Fatal(err)
	}
	alice.flush()
	for _, u := range []*user{bob, carol} {
		next(t, u, func(e *ActionEvent) bool { return e.Action == "delete" && e.By == a })
		if h, _ := u.c.History(a, 0); len(h) != 0 {
			t.Errorf("%s still has %d message(s) of the deleted broadcast", u.c.ID(), len(h))
		}
	}

	// Only the list's recent broadcasts, by a copy's ID.
	if err := alice.c.EditBroadcast("other", ms[0].ID, "x"); !errors.Is(err, actions.ErrNoSuchBroadcast) {
		t.Errorf("another list's broadcast: %v", err)
	}
	m2, _ := alice.c.Broadcast("desk", "old news")
	clk.Advance(actions.EditLimit + 1)
	if err := alice.c.EditBroadcast("desk", m2[0].ID, "x"); !errors.Is(err, actions.ErrNoSuchBroadcast) {
		t.Errorf("a broadcast older than the limit: %v", err)
	}
}
