package client

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/keytrans"
	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/keydir"
	"github.com/skymsg/sky/wire"
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

// TestEvilKeyDirectorySplitView: the server shows Bob a tree of its own
// (validly signed, consistent with everything Bob asks) and Alice the
// real one. Bob's next text carries the head he saw, end to end; Alice's
// next check of the directory finds it cannot be her tree, and says so.
func TestEvilKeyDirectorySplitView(t *testing.T) {
	s := startSkydConfig(t, server.Config{KeyDir: server.KeyDirConfig{Interval: time.Hour}})
	if _, err := keydir.CertifyWithRoot(context.Background(), s.st.(keydir.Store), s.trust, 0); err != nil {
		t.Fatal(err)
	}
	ev := startEvil(t, s)
	fork := func(b []byte) []byte {
		sh, err := keytrans.DecodeSignedHead(b)
		if err != nil {
			return b
		}
		// Another signed statement of the same log: Bob's view stays
		// consistent with itself (the log roots are the real ones), but
		// no head he is shown is one Alice is shown.
		sh.TimeMillis++
		k := s.srv.KeyDir().Keys()
		return keytrans.SignHead(sh.Head, k.Cert.KeyID, k.Signing).Encode()
	}
	var _ core.HeadGossip = coreCheck{} // texts carry the head seen
	ev.set(func(acct string, f *wire.Frame) []*wire.Frame {
		if r := f.GetResponse(); r != nil {
			if h := r.GetKeydirHead(); h != nil {
				h.Head = fork(h.Head)
			}
			if l := r.GetKeydirLookup(); l != nil {
				l.Head = fork(l.Head)
			}
			if p := r.GetKeydirProof(); p != nil {
				p.Head = fork(p.Head)
			}
		}
		return []*wire.Frame{f}
	}, nil)
	opts := testOptions(nil)
	opts.KeyDirectory.Interval = 100 * time.Millisecond
	alice := newUser(t, s, opts)
	bob := newUserAt(t, s, ev.url(), opts)
	if err := s.srv.KeyDir().Tick(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// Both are at the newest head (the server may have published an empty
	// epoch as it started); no other epoch follows.
	size := func(u *user) uint64 {
		sh, err := keytrans.DecodeSignedHead(u.c.kt.Head())
		if err != nil {
			return 0
		}
		return sh.Size
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		newest, _ := s.srv.KeyDir().Head()
		if size(bob) == newest.Size && size(alice) == newest.Size {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the newest head was not seen")
		}
		time.Sleep(20 * time.Millisecond)
	}
	a := alice.c.ID()
	bob.send(a, "hello alice") // carries the head Bob saw; Alice's next check compares
	e := next(t, alice, func(e *KeyDirectoryEvent) bool { return e.Peer == a && strings.Contains(e.Err.Error(), bob.c.ID()) })
	if !errors.Is(e.Err, ErrKeyDirectoryAlarm) {
		t.Fatalf("alice's alarm: %v", e.Err)
	}
}
