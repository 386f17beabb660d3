package client

import (
	"fmt"
	"slices"
	"testing"
	"time"

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
	// Its delivery receipt for alice's text (receipts are on in a group
	// of fifty) goes first, and is not counted below.
	waitFor(t, "member 7's receipt sent", func() bool { return len(groupReceipts(t, m7)) == 0 })
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
	single, multi := map[string]int{}, map[string]int{}
	requests := map[int]bool{}
	sizes := map[int]int{}
	for _, s := range sends {
		if !s.token || s.sealed || s.conn != "" {
			t.Errorf("a send to %s as a message request, not with a delivery token on an anonymous connection", s.to)
		}
		if !wire.IsSealedSize(s.size) {
			t.Errorf("a send to %s of %d bytes", s.to, s.size)
		}
		if s.multi > 0 {
			multi[s.to]++
			requests[s.multi] = true
		} else {
			single[s.to]++
		}
		sizes[s.size]++
	}
	// Each other member: its sender key (a first message on a new session,
	// or a message on alice's) as its own envelope, then the text as its
	// copy of one multi-recipient send (sealed sender v2) to them all.
	if len(single) != n-1 || len(multi) != n-1 || len(requests) != 1 {
		t.Fatalf("single sends to %d accounts, multi-recipient copies to %d in %d requests; want %d, %d in 1", len(single), len(multi), len(requests), n-1, n-1)
	}
	for id, k := range single {
		if k != 1 || multi[id] != 1 || !slices.Contains(append(ids, a), id) {
			t.Fatalf("%d single sends and %d multi-recipient copies to %s", k, multi[id], id)
		}
	}
	t.Logf("one member's first group text to %d members: %d sealed envelopes (the sender keys) and one multi-recipient send, copy sizes %v", n-1, len(single), fmt.Sprint(sizes))
}

// TestGroupMultiFallback: a group text goes as one multi-recipient send
// only to members whose delivery token the sender knows and the server
// accepts. A member the sender never heard from (no token) gets it as a
// sealed request of its own; a member who rotated its access key is
// refused in the multi-recipient send and gets it on its own, with its new
// token, once its next message brought it. Every member receives the text
// exactly once.
func TestGroupMultiFallback(t *testing.T) {
	s := startSkyd(t)
	ev := startEvil(t, s)
	var log sendLog
	ev.set(nil, log.toServer)
	alice := newUserAt(t, s, ev.url(), testOptions(nil))
	a := alice.c.ID()
	var members []*user
	var ids []string
	for i := range 4 {
		u := newUser(t, s, testOptions(nil))
		members = append(members, u)
		ids = append(ids, u.c.ID())
		if i < 3 {
			u.send(a, "hi alice") // alice learns their tokens
		}
	}
	texts(t, alice, 3)
	g, err := alice.c.CreateGroup("Fallback", ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range members {
		groupChange(t, u, g.ID)
	}
	if _, err := alice.c.SendGroup(g.ID, "first"); err != nil {
		t.Fatal(err)
	}
	alice.flush()
	for _, u := range members {
		if got := groupTexts(t, u, g.ID, 1); got[0] != a+": first" {
			t.Fatalf("%s got %q", u.c.ID(), got)
		}
	}
	// Member 2 rotates its access key: alice's token for it is stale once
	// the new verifier is on the server.
	old, err := s.st.DeliveryVerifier(ctxT(t), ids[2])
	if err != nil {
		t.Fatal(err)
	}
	if err := members[2].c.core.RotateAccessKey(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		v, err := s.st.DeliveryVerifier(ctxT(t), ids[2])
		if err != nil {
			t.Fatal(err)
		}
		if string(v) != string(old) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the rotated verifier never reached the server")
		}
	}
	log.take()
	if _, err := alice.c.SendGroup(g.ID, "second"); err != nil {
		t.Fatal(err)
	}
	// To alice the refusal of member 2's token is only the server's word:
	// she is told, and the text waits for member 2 until its next message
	// brings its new key (issue 10 item 6).
	next(t, alice, func(e *AccessRefusedEvent) bool { return e.Peer == ids[2] })
	members[2].send(a, "my new key")
	texts(t, alice, 1)
	alice.flush()
	for _, u := range members {
		if got := groupTexts(t, u, g.ID, 1); got[0] != a+": second" {
			t.Fatalf("%s got %q", u.c.ID(), got)
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
	want := func(m map[string]int, who ...int) bool {
		if len(m) != len(who) {
			return false
		}
		for _, i := range who {
			if m[ids[i]] == 0 {
				return false
			}
		}
		return true
	}
	if !want(multi, 0, 1, 2) || !want(single, 2, 3) {
		t.Fatalf("multi-recipient copies to %v, single sends to %v; want members 0-2 in the multi-recipient send (2 refused) and 2, 3 on their own (members %v)", multi, single, ids)
	}
}
