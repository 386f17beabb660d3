package client

import (
	"fmt"
	"slices"
	"testing"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/wire"
)

// TestGroupOfFifty: a group of a realistic size (50; 12 under the race
// detector) through a real skyd with its default limits. The members wrote
// to the admin before (so she has their delivery tokens); the group's
// creation shares the tokens she knows, so a member who has never talked to
// the others reaches them all with tokens on anonymous connections, not as
// rate-limited message requests. The server sees, for one group text, one
// sealed envelope per member, each of a sealed size, to device 1.
func TestGroupOfFifty(t *testing.T) {
	n := 50
	if raceEnabled {
		n = 12
	}
	s := startSkydConfig(t, server.Config{RegisterRate: server.Rate{Per: 1000, Burst: 1000}})
	ev := startEvil(t, s)
	var log sendLog
	ev.set(nil, log.toServer)
	alice := newUser(t, s, testOptions(nil))
	a := alice.c.ID()
	users := []*user{alice}
	var ids []string
	few := testOptions(nil) // few one-time prekeys: registering fifty stays quick
	few.PreKeyLow, few.PreKeyTarget = 2, 5
	for i := 1; i < n; i++ {
		var u *user
		if i == 7 {
			u = newUserAt(t, s, ev.url(), few) // the one whose sends are recorded
		} else {
			u = newUser(t, s, few)
		}
		users = append(users, u)
		ids = append(ids, u.c.ID())
		u.send(a, "hi alice")
	}
	texts(t, alice, n-1)

	g, err := alice.c.CreateGroup("Fifty", ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Members) != n {
		t.Fatalf("%d members", len(g.Members))
	}
	for _, u := range users[1:] {
		if ch := groupChange(t, u, g.ID); !ch.Joined || len(ch.Added) != n {
			t.Fatalf("%s: %+v", u.c.ID(), ch)
		}
	}
	if _, err := alice.c.SendGroup(g.ID, "hello fifty"); err != nil {
		t.Fatal(err)
	}
	for _, u := range users[1:] {
		if got := groupTexts(t, u, g.ID, 1); got[0] != a+": hello fifty" {
			t.Fatalf("%s got %q", u.c.ID(), got)
		}
	}

	// Member 7 talks to the group for the first time.
	m7 := users[7]
	log.take()
	if _, err := m7.c.SendGroup(g.ID, "hello from seven"); err != nil {
		t.Fatal(err)
	}
	m7.flush()
	for i, u := range users {
		if i == 7 {
			continue
		}
		if got := groupTexts(t, u, g.ID, 1); got[0] != m7.c.ID()+": hello from seven" {
			t.Fatalf("%s got %q", u.c.ID(), got)
		}
	}
	sends := log.take()
	to := map[string]int{}
	sizes := map[int]int{}
	for _, s := range sends {
		if !s.token || s.sealed || s.conn != "" {
			t.Errorf("a send to %s as a message request, not with a delivery token on an anonymous connection", s.to)
		}
		if !wire.IsSealedSize(s.size) {
			t.Errorf("a send to %s of %d bytes", s.to, s.size)
		}
		to[s.to]++
		sizes[s.size]++
	}
	// Each other member: its sender key (a first message on a new session,
	// or a message on alice's), then the text.
	if len(to) != n-1 || len(sends) != 2*(n-1) {
		t.Fatalf("%d sends to %d accounts, want %d to %d", len(sends), len(to), 2*(n-1), n-1)
	}
	for id, k := range to {
		if k != 2 || !slices.Contains(append(ids, a), id) {
			t.Fatalf("%d sends to %s", k, id)
		}
	}
	t.Logf("one member's first group text to %d members: %d sealed envelopes, sizes %v", n-1, len(sends), fmt.Sprint(sizes))
}
