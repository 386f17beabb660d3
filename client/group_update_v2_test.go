package client

import (
	"testing"
)

// TestGroupUpdateV2: a change goes to the members who were in the group
// and hold the admin's sender key as one multi-recipient send (one shared
// sender-key update), to a member new to the group in the 1:1 session;
// a removal, which replaces the sender key, goes 1:1 to everyone. Every
// member settles on the same state.
func TestGroupUpdateV2(t *testing.T) {
	s := startSkyd(t)
	ev := startEvil(t, s)
	var log sendLog
	ev.set(nil, log.toServer)
	alice := newUserAt(t, s, ev.url(), testOptions(nil))
	a := alice.c.ID()
	var members []*user
	var ids []string
	for range 4 {
		u := newUser(t, s, testOptions(nil))
		u.send(a, "hi alice") // alice learns their tokens
		members = append(members, u)
		ids = append(ids, u.c.ID())
	}
	texts(t, alice, 4)
	g, err := alice.c.CreateGroup("Desk", ids[:3])
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range members[:3] {
		groupChange(t, u, g.ID)
	}
	if _, err := alice.c.SendGroup(g.ID, "hello"); err != nil { // they hold her key
		t.Fatal(err)
	}
	alice.flush()
	for _, u := range members[:3] {
		groupTexts(t, u, g.ID, 1)
	}
	sends := func() (multi, single map[string]int) {
		multi, single = map[string]int{}, map[string]int{}
		for _, s := range log.take() {
			if s.multi > 0 {
				multi[s.to]++
			} else {
				single[s.to]++
			}
		}
		return multi, single
	}
	sends()

	// A rename: one shared update to the three.
	g, err = alice.c.RenameGroup(g.ID, "Night desk")
	if err != nil {
		t.Fatal(err)
	}
	alice.flush()
	for _, u := range members[:3] {
		if ch := groupChange(t, u, g.ID); !ch.Renamed || ch.Name != "Night desk" || ch.By != a {
			t.Fatalf("%s: %+v", u.c.ID(), ch)
		}
	}
	multi, single := sends()
	for _, id := range ids[:3] {
		if multi[id] != 1 || single[id] != 0 {
			t.Fatalf("rename: multi %v, single %v", multi, single)
		}
	}

	// Adding the fourth: the old members share one update, the newcomer
	// gets the group in its session.
	if g, err = alice.c.AddMembers(g.ID, ids[3]); err != nil {
		t.Fatal(err)
	}
	alice.flush()
	for _, u := range members {
		if ch := groupChange(t, u, g.ID); len(ch.Added) == 0 {
			t.Fatalf("%s: %+v", u.c.ID(), ch)
		}
	}
	multi, single = sends()
	if multi[ids[3]] != 0 || single[ids[3]] == 0 || multi[ids[0]] != 1 || multi[ids[1]] != 1 || multi[ids[2]] != 1 {
		t.Fatalf("add: multi %v, single %v", multi, single)
	}

	// Removing one replaces the key: everyone gets it 1:1.
	if g, err = alice.c.RemoveMembers(g.ID, ids[0]); err != nil {
		t.Fatal(err)
	}
	alice.flush()
	for _, u := range members {
		groupChange(t, u, g.ID)
	}
	multi, _ = sends()
	if len(multi) != 0 {
		t.Fatalf("a removal went as a shared update: %v", multi)
	}
	for _, u := range members[1:] {
		if got := u.members(g.ID); !eq(got, g.Members) {
			t.Fatalf("%s holds %v, alice %v", u.c.ID(), got, g.Members)
		}
	}
}
