package client

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/keydir"
)

// keyDirSkyd is a skyd whose key directory publishes every 50 ms.
func keyDirSkyd(t *testing.T) *skyd {
	s := startSkydConfig(t, server.Config{KeyDir: server.KeyDirConfig{Interval: 50 * time.Millisecond}})
	if _, err := keydir.CertifyWithRoot(context.Background(), s.st.(keydir.Store), s.trust, 0); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestEvilKeyDirectory: with a key directory, a server that hands Alice an
// attacker's key for Bob on first contact is caught before anything is
// encrypted (the same server without a directory gets its key pinned:
// TestEvilIdentitySubstitution); an honest first contact is confirmed by
// the directory; a key the server publishes for the user herself raises an
// alarm at her next check. The checks' other lies (forks, rewritten
// history, withheld proofs, missing countersignatures) are in package
// client/transparency.
func TestEvilKeyDirectory(t *testing.T) {
	s := keyDirSkyd(t)
	ev := startEvil(t, s)
	bob := newUser(t, s, testOptions(nil))
	b := bob.c.ID()
	mallory := newAttacker()
	var sub substitution
	ev.set(sub.hooks(b, mallory))

	t.Run("swaps Bob's key for Alice only", func(t *testing.T) {
		alice := newUserAt(t, s, ev.url(), testOptions(nil))
		sub.mu.Lock()
		sub.on, sub.sent = true, nil
		sub.mu.Unlock()
		alice.send(b, "first contact")
		e := next(t, alice, func(e *KeyDirectoryEvent) bool { return e.Peer == b })
		if !errors.Is(e.Err, ErrKeyDirectoryAlarm) {
			t.Fatalf("the event's error: %v", e.Err)
		}
		sub.mu.Lock()
		sent := len(sub.sent)
		sub.mu.Unlock()
		if sent != 0 {
			t.Fatalf("%d messages went to the substituted key", sent)
		}
		if _, err := alice.c.SafetyNumber(b); err == nil {
			t.Fatal("the substituted key was pinned")
		}
		if st, _ := alice.c.KeyDirectoryStatus(b); st.Confirmed {
			t.Fatal("the substituted key counts as confirmed")
		}
		if n := len(alice.outbox()); n != 1 {
			t.Fatalf("the message should wait in the outbox, %d items", n)
		}
		sub.mu.Lock()
		sub.on = false
		sub.mu.Unlock()
	})

	t.Run("an honest first contact is confirmed by the directory", func(t *testing.T) {
		carol := newUserAt(t, s, ev.url(), testOptions(nil))
		carol.send(b, "hi bob")
		if got := texts(t, bob, 1); got[0] != "hi bob" {
			t.Fatalf("bob got %q", got)
		}
		st, err := carol.c.KeyDirectoryStatus(b)
		if err != nil || !st.Confirmed {
			t.Fatalf("bob's key: %+v, %v", st, err)
		}
	})

	t.Run("publishes an extra key for Alice herself", func(t *testing.T) {
		opts := testOptions(nil)
		opts.KeyDirectory.Interval = 100 * time.Millisecond
		alice := newUser(t, s, opts)
		a := alice.c.ID()
		// Her first checks find her entry (published within 50 ms) and keep
		// its version; then the server publishes Mallory's key for her.
		deadline := time.Now().Add(10 * time.Second)
		for alice.c.kt.Monitor(ctxT(t), mustConn(t, alice)) != nil || alice.c.kt.OwnVersion() == 0 {
			if time.Now().After(deadline) {
				t.Fatal("alice's entry never appeared")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err := s.srv.KeyDir().Queue(ctxT(t), a, mallory.ik.Public.Bytes()); err != nil {
			t.Fatal(err)
		}
		e := next(t, alice, func(e *KeyDirectoryEvent) bool { return e.Peer == a })
		if !errors.Is(e.Err, ErrKeyDirectoryAlarm) {
			t.Fatalf("the event's error: %v", e.Err)
		}
	})
}

func mustConn(t *testing.T, u *user) *conn.Conn {
	c, err := u.c.core.Conn(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
