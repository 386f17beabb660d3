package store

import (
	"errors"
	"slices"
	"testing"
)

// TestSessionsHeldUntilCommit: PutSession holds a record until the
// transaction commits, and within the transaction every read sees the newest
// write — Session, SessionDevices (even for a session that exists only in
// this transaction), DeleteSession and DeleteSessions; a failed transaction
// writes nothing; a committed one writes the last record put.
func TestSessionsHeldUntilCommit(t *testing.T) {
	_, s := newTestStore(t, Options{})
	bob1, bob2, carol := Address{"bob-id", 1}, Address{"bob-id", 2}, Address{"carol-id", 1}
	update(t, s, func(tx *Tx) error { return tx.PutSession(bob1, []byte("v1")) })
	session := func(tx *Tx, a Address) string {
		t.Helper()
		v, err := tx.Session(a)
		if errors.Is(err, ErrNotFound) {
			return "none"
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(v)
	}
	update(t, s, func(tx *Tx) error {
		for _, v := range []string{"v2", "v3"} {
			if err := tx.PutSession(bob1, []byte(v)); err != nil {
				return err
			}
		}
		if got := session(tx, bob1); got != "v3" {
			t.Errorf("within the transaction: %q, want v3", got)
		}
		tx.PutSession(bob2, []byte("new"))
		if devs, err := tx.SessionDevices("bob-id"); err != nil || !slices.Equal(devs, []uint32{1, 2}) {
			t.Errorf("SessionDevices = %v, %v; want [1 2]", devs, err)
		}
		tx.PutSession(bob2, []byte("newer")) // after the listing wrote it
		tx.PutSession(carol, []byte("c"))
		if err := tx.DeleteSession(carol); err != nil {
			return err
		}
		if got := session(tx, carol); got != "none" {
			t.Errorf("a deleted held session reads %q", got)
		}
		return nil
	})
	s.View(func(tx *Tx) error {
		if a, b, c := session(tx, bob1), session(tx, bob2), session(tx, carol); a != "v3" || b != "newer" || c != "none" {
			t.Errorf("after commit: %q %q %q, want v3 newer none", a, b, c)
		}
		return nil
	})
	failed := errors.New("the transaction fails")
	err := s.Update(func(tx *Tx) error {
		tx.PutSession(bob1, []byte("lost"))
		return failed
	})
	if !errors.Is(err, failed) {
		t.Fatal(err)
	}
	update(t, s, func(tx *Tx) error {
		if got := session(tx, bob1); got != "v3" {
			t.Errorf("after a failed transaction: %q, want v3", got)
		}
		tx.PutSession(bob1, []byte("gone"))
		return tx.DeleteSessions("bob-id")
	})
	s.View(func(tx *Tx) error {
		if a, b := session(tx, bob1), session(tx, bob2); a != "none" || b != "none" {
			t.Errorf("after DeleteSessions: %q %q", a, b)
		}
		return nil
	})
}

// TestReadCacheFollowsWrites: within a transaction, reads after a put, a
// delete or a failed lookup see the current row, however often they repeat;
// values handed out may be cleared by the caller without harm.
func TestReadCacheFollowsWrites(t *testing.T) {
	_, s := newTestStore(t, Options{})
	update(t, s, func(tx *Tx) error {
		for i := range 3 {
			if _, err := tx.Contact("carol-id"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("read %d of a missing contact: %v", i, err)
			}
		}
		if err := tx.PutContact(Contact{ID: "carol-id", Name: "Carol", AddedAt: t0}); err != nil {
			return err
		}
		for i := range 3 {
			c, err := tx.Contact("carol-id")
			if err != nil || c.Name != "Carol" {
				t.Fatalf("read %d after the put: %+v, %v", i, c, err)
			}
		}
		v, err := tx.get("contacts", []byte("carol-id"))
		if err != nil {
			return err
		}
		clear(v) // as getRecord does
		if c, err := tx.Contact("carol-id"); err != nil || c.Name != "Carol" {
			t.Fatalf("after a caller cleared its copy: %+v, %v", c, err)
		}
		if err := tx.DeleteContact("carol-id"); err != nil {
			return err
		}
		if _, err := tx.Contact("carol-id"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after the delete: %v", err)
		}
		return nil
	})
	s.View(func(tx *Tx) error {
		if _, err := tx.Contact("carol-id"); !errors.Is(err, ErrNotFound) {
			t.Errorf("after commit: %v", err)
		}
		return nil
	})
}
