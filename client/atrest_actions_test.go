package client

import (
	"errors"
	"strings"
	"testing"

	"github.com/skymsg/sky/client/store"
)

// TestAtRestDeleteForEveryone: acceptance test 21 for a deletion for
// everyone instead of a timer: a message holding a canary, with a reaction
// and an edit (whose earlier text holds a second canary), is deleted by its
// author; after both clients close, no file of either home holds either
// canary, the peer's ID or key bytes.
func TestAtRestDeleteForEveryone(t *testing.T) {
	s := startSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	a, b := alice.c.ID(), bob.c.ID()
	canary, edited := canaryText(), canaryText()
	m := alice.send(b, canary+" "+strings.Repeat("x", 20000))
	bobs := next(t, bob, func(e *MessageEvent) bool { return e.Message.ID == m.ID }).Message
	if err := bob.c.React(a, m.ID, "👍"); err != nil {
		t.Fatal(err)
	}
	next(t, alice, func(e *ActionEvent) bool { return e.Action == "reaction" })
	if err := alice.c.Edit(b, m.ID, edited); err != nil {
		t.Fatal(err)
	}
	next(t, bob, func(e *ActionEvent) bool { return e.Action == "edit" })
	if err := alice.c.DeleteForEveryone(b, m.ID); err != nil {
		t.Fatal(err)
	}
	next(t, bob, func(e *ActionEvent) bool { return e.Action == "delete" })
	// Destroyed as expiry destroys: the row and its key are gone.
	for _, u := range []*user{alice, bob} {
		id := map[*user]int64{alice: m.LocalID, bob: bobs.LocalID}[u]
		err := u.c.core.View(func(tx *store.Tx) error { _, err := tx.Message(id); return err })
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: the deleted message is still stored: %v", u.c.ID(), err)
		}
	}
	alice.flush()
	bob.flush()
	aliceKey, bobKey := alice.c.core.Local.KeyPair.Public.Bytes(), bob.c.core.Local.KeyPair.Public.Bytes()
	na, nb := needles(alice.c, bobKey, b, canary), needles(bob.c, aliceKey, a, canary)
	na["the edit"], nb["the edit"] = []byte(edited), []byte(edited)
	alice.close()
	bob.close()
	for _, hit := range append(scan(t, alice.dir, na), scan(t, bob.dir, nb)...) {
		t.Error(hit)
	}
}

// TestSearch: search finds texts and file names across conversations (or
// in one), ignoring case, never an expired message; and it leaves no trace
// on disk: after it, no file of the home holds the query or the matched
// text in plain.
func TestSearch(t *testing.T) {
	s := startSkyd(t)
	clk := newClock()
	alice := newUser(t, s, testOptions(clk))
	bob := newUser(t, s, testOptions(clk))
	carol := newUser(t, s, testOptions(clk))
	a, b := alice.c.ID(), bob.c.ID()
	canary := canaryText()
	m1 := bob.send(a, "the "+canary+" is in the Garden")
	m2 := carol.send(a, "no garden here, "+strings.ToUpper(canary))
	seen := map[string]bool{}
	for !seen[m1.ID] || !seen[m2.ID] {
		seen[next(t, alice, func(e *MessageEvent) bool { return true }).Message.ID] = true
	}
	hits, err := alice.c.Search(canary, "")
	if err != nil || len(hits) != 2 {
		t.Fatalf("search: %d hits, %v", len(hits), err)
	}
	if hits, _ := alice.c.Search("GARDEN", b); len(hits) != 1 || hits[0].ID != m1.ID {
		t.Fatalf("search with bob: %+v", hits)
	}
	if hits, _ := alice.c.Search("nowhere-"+canary, ""); len(hits) != 0 {
		t.Fatalf("search for what is not there: %d hits", len(hits))
	}
	// Read and expired: no longer found.
	var ids []int64
	for _, h := range hits {
		ids = append(ids, h.LocalID)
	}
	if _, err := alice.c.MarkRead(ids...); err != nil {
		t.Fatal(err)
	}
	clk.Advance(DefaultTimer + 1)
	if hits, _ := alice.c.Search(canary, ""); len(hits) != 0 {
		t.Fatalf("an expired message was found: %d hits", len(hits))
	}
	n := needles(alice.c, bob.c.core.Local.KeyPair.Public.Bytes(), b, canary)
	n["the query"] = []byte("nowhere-" + canary)
	alice.close()
	for _, hit := range scan(t, alice.dir, n) {
		t.Error(hit)
	}
}
