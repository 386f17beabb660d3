package client

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skymsg/sky/wire"
)

// refusingProxy makes an evil server that answers anonymous sends to victim
// TOKEN_REJECTED (it spoils the token, so the real server refuses it) while
// refuse says so, and logs every send.
func refusingProxy(t *testing.T, s *skyd, victim *string, refuse *atomic.Int32, log *sendLog) *evil {
	ev := startEvil(t, s)
	ev.set(nil, func(acct string, f *wire.Frame) []*wire.Frame {
		if snd := f.GetRequest().GetSend(); snd != nil && snd.GetAccount() == *victim && len(snd.GetDeliveryToken()) > 0 && refuse.Load() != 0 {
			if refuse.Load() > 0 {
				refuse.Add(-1)
			}
			snd.DeliveryToken = make([]byte, len(snd.GetDeliveryToken()))
		}
		return log.toServer(acct, f)
	})
	return ev
}

// namedTo fails the test if a send or access request to peer went on the
// authenticated connection of from (which would name from to the server).
func namedTo(t *testing.T, sends []loggedSend, from, peer string) {
	t.Helper()
	for _, snd := range sends {
		if snd.to == peer && snd.conn == from {
			t.Fatalf("%s wrote to %s on its own connection (%+v): the server learnt who writes to whom", from, peer, snd)
		}
	}
}

// TestTokenRefreshEndToEnd (issue 10 item 6): when the server answers an
// established contact's token TOKEN_REJECTED, the client asks the contact
// end to end for their current key, in a sealed access request on an
// anonymous connection, and the contact's client answers with its key: a
// forged refusal costs the server its forgery and teaches it nothing (no
// frame on the sender's own connection names the contact), and the waiting
// message still arrives sealed, with a token, without the contact writing.
// A server that keeps refusing a key the contact confirmed is named as
// refusing a valid token. Without the access request, the message waited
// for the contact's next message (the test timed out).
func TestTokenRefreshEndToEnd(t *testing.T) {
	s := startSkyd(t)
	var log sendLog
	var refuse atomic.Int32 // >0: refuse so many more; -1: always
	var b string
	ev := refusingProxy(t, s, &b, &refuse, &log)
	alice := newUserAt(t, s, ev.url(), testOptions(nil))
	bob := newUserAt(t, s, ev.url(), testOptions(nil))
	a := alice.c.ID()
	b = bob.c.ID()
	alice.send(b, "hello bob")
	texts(t, bob, 1)
	bob.send(a, "hi alice") // Bob writes back: Alice holds his key now
	texts(t, alice, 1)
	alice.flush()
	bob.flush()
	log.take()

	// One forged refusal: the message still arrives, sealed, and Bob
	// wrote nothing.
	refuse.Store(1)
	alice.send(b, "despite the forgery")
	if e := next(t, alice, func(e *AccessRefusedEvent) bool { return true }); e.Peer != b || e.Confirmed {
		t.Fatalf("refusal announced as %+v", e)
	}
	if got := texts(t, bob, 1); got[0] != "despite the forgery" {
		t.Fatalf("bob got %q", got)
	}
	alice.flush()
	sends := log.take()
	namedTo(t, sends, a, b)
	asked := 0
	for _, snd := range sends {
		switch {
		case snd.access && snd.to == b:
			asked++
			if snd.conn != "" || snd.size != 1<<10 {
				t.Fatalf("access request %+v, want 1 KiB on an anonymous connection", snd)
			}
		case snd.to == b && snd.conn == "" && !snd.token:
			t.Fatalf("alice sent %+v to Bob without a token", snd)
		}
	}
	if asked != 1 {
		t.Fatalf("%d access requests to Bob, want 1 (sends %+v)", asked, sends)
	}
	if msgs, err := bob.c.History(a, 0); err != nil || len(msgs) != 3 {
		t.Fatalf("Bob's history with Alice: %d messages, %v; the access request must not show", len(msgs), err)
	}

	// A server that refuses for good: Bob confirms the key, and Alice is
	// told the server refuses a valid token; her connection still never
	// names Bob.
	refuse.Store(-1)
	alice.send(b, "while the server lies")
	next(t, alice, func(e *AccessRefusedEvent) bool { return e.Peer == b && !e.Confirmed })
	e := next(t, alice, func(e *AccessRefusedEvent) bool { return e.Peer == b && e.Confirmed })
	if e == nil {
		t.Fatal("no confirmed refusal")
	}
	err := alice.c.Flush(shortCtx(t, time.Second))
	var re *AccessRefusedError
	if !errors.As(err, &re) || !re.Confirmed {
		t.Fatalf("Flush while the server refuses a confirmed key: %v", err)
	}
	namedTo(t, log.take(), a, b)
	refuse.Store(0)
	bob.send(a, "are you there?") // his next message confirms the key again: Alice retries
	texts(t, alice, 1)
	if got := texts(t, bob, 1); got[0] != "while the server lies" {
		t.Fatalf("bob got %q", got)
	}
}

// TestTokenRefreshAfterRotation: Bob removes a contact, which rotates his
// access key; Alice's token is refused by an honest server, she asks, Bob's
// client answers with the new key, and her message goes out under it
// without Bob writing. Carol, whom Bob removed, asks too and gets no
// answer: her messages wait (removing her meant exactly that).
func TestTokenRefreshAfterRotation(t *testing.T) {
	s := startSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	carol := newUser(t, s, testOptions(nil))
	b := bob.c.ID()
	for _, u := range []*user{alice, carol} {
		u.send(b, "hi bob")
		texts(t, bob, 1)
		if err := bob.c.Accept(u.c.ID()); err != nil {
			t.Fatal(err)
		}
		bob.send(u.c.ID(), "hi")
		texts(t, u, 1)
	}
	bob.flush()
	if err := bob.c.RemoveContact(carol.c.ID()); err != nil {
		t.Fatal(err)
	}
	bob.flush()
	time.Sleep(100 * time.Millisecond) // the new verifier reaches the server

	alice.send(b, "after the rotation")
	if got := texts(t, bob, 1); got[0] != "after the rotation" {
		t.Fatalf("bob got %q", got)
	}
	carol.send(b, "after removal")
	next(t, carol, func(e *AccessRefusedEvent) bool { return e.Peer == b })
	if err := carol.c.Flush(shortCtx(t, time.Second)); !errors.Is(err, ErrAccessRefused) {
		t.Fatalf("Carol's Flush: %v, want her message waiting", err)
	}
}
