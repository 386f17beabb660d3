package protocol_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/memstore"
)

func currentBase(t *testing.T, d, peer *device) curve.PublicKey {
	t.Helper()
	rec, err := d.store.LoadSession(ctx, peer.addr)
	if err != nil || rec == nil || rec.Current() == nil {
		t.Fatalf("%s has no current session: %v", d.addr.Name, err)
	}
	return rec.Current().AliceBaseKey
}

// TestSimultaneousInitiation: both sides start a session at once; both
// first messages decrypt, and one round trip later both use one session.
func TestSimultaneousInitiation(t *testing.T) {
	alice, bob := newDevice(t, aliceName), newDevice(t, bobName)
	alice.startSession(t, bob, true)
	bob.startSession(t, alice, true)
	a1 := alice.encrypt(t, bob, "a1")
	b1 := bob.encrypt(t, alice, "b1")
	bob.mustDecrypt(t, alice, a1, "a1")
	alice.mustDecrypt(t, bob, b1, "b1")
	if currentBase(t, alice, bob) == currentBase(t, bob, alice) {
		t.Fatal("sessions agree already; the test does not exercise simultaneous initiation")
	}
	alice.mustDecrypt(t, bob, bob.encrypt(t, alice, "b2"), "b2")
	bob.mustDecrypt(t, alice, alice.encrypt(t, bob, "a2"), "a2")
	alice.mustDecrypt(t, bob, bob.encrypt(t, alice, "b3"), "b3")
	if currentBase(t, alice, bob) != currentBase(t, bob, alice) {
		t.Fatal("after a round trip the sides use different sessions")
	}
}

// TestSessionReset: Bob archives the session and starts a new one; Alice's
// messages still in flight on the old session decrypt from the archive, and
// the sides settle on the new session.
func TestSessionReset(t *testing.T) {
	alice, bob := newDevice(t, aliceName), newDevice(t, bobName)
	alice.startSession(t, bob, true)
	bob.mustDecrypt(t, alice, alice.encrypt(t, bob, "hi"), "hi")
	alice.mustDecrypt(t, bob, bob.encrypt(t, alice, "hello"), "hello")
	old := currentBase(t, bob, alice)
	delayed := alice.encrypt(t, bob, "sent before the reset")

	if err := protocol.ArchiveSession(ctx, bob.store, alice.addr); err != nil {
		t.Fatal(err)
	}
	if _, err := protocol.Encrypt(ctx, bob.store.Stores(), bob.addr, alice.addr, []byte("x"), t0); !errors.Is(err, protocol.ErrNoSession) {
		t.Fatalf("encrypt after archiving: %v", err)
	}
	bob.startSession(t, alice, false)
	fresh := bob.encrypt(t, alice, "new session")
	if fresh.Type != protocol.TypePreKey {
		t.Fatal("first message of the new session is not a PreKey message")
	}
	bob.mustDecrypt(t, alice, delayed, "sent before the reset")
	if currentBase(t, bob, alice) != old {
		t.Fatal("a message on the archived session did not bring it back")
	}
	alice.mustDecrypt(t, bob, fresh, "new session")
	bob.mustDecrypt(t, alice, alice.encrypt(t, bob, "on the new one"), "on the new one")
	if currentBase(t, bob, alice) != currentBase(t, alice, bob) || currentBase(t, bob, alice) == old {
		t.Fatal("the sides did not settle on the new session")
	}
}

// TestArchiveBound: a record keeps at most 40 archived states, the newest.
func TestArchiveBound(t *testing.T) {
	alice, bob := newDevice(t, aliceName), newDevice(t, bobName)
	var bases []curve.PublicKey
	var firsts []protocol.Ciphertext
	for i := 0; i < 45; i++ {
		alice.startSession(t, bob, false)
		bases = append(bases, currentBase(t, alice, bob))
		firsts = append(firsts, alice.encrypt(t, bob, fmt.Sprint(i)))
	}
	rec, _ := alice.store.LoadSession(ctx, bob.addr)
	if rec.ArchivedStates() != 40 {
		t.Fatalf("%d archived states, want 40", rec.ArchivedStates())
	}
	// Bob accepts the oldest still-archived session's message and the newest.
	bob.mustDecrypt(t, alice, firsts[44], "44")
	bob.mustDecrypt(t, alice, firsts[4], "4")
	alice.mustDecrypt(t, bob, bob.encrypt(t, alice, "reply"), "reply")
	if currentBase(t, alice, bob) != bases[4] {
		t.Fatal("the reply did not promote the archived session it was sent on")
	}
	// Session 3 was dropped from Alice's record: Bob's reply on it cannot be read.
	bob.mustDecrypt(t, alice, firsts[3], "3")
	if _, err := alice.decrypt(bob, bob.encrypt(t, alice, "to a forgotten session")); !errors.Is(err, protocol.ErrInvalidMessage) {
		t.Fatalf("reply on a dropped session: %v", err)
	}
}

// TestUntrustedIdentity: once a peer's identity key is recorded, a different
// one is refused everywhere (bundle, PreKey message, encryption) with
// ErrUntrustedIdentity and nothing is stored, until the user accepts it.
func TestUntrustedIdentity(t *testing.T) {
	alice, bob := newDevice(t, aliceName), newDevice(t, bobName)
	alice.startSession(t, bob, true)
	bob.mustDecrypt(t, alice, alice.encrypt(t, bob, "hi"), "hi")
	alice.mustDecrypt(t, bob, bob.encrypt(t, alice, "hello"), "hello")

	// Bob reinstalls: same address, new identity.
	newBob := &device{addr: bob.addr, store: memstore.New(identity.Generate(), 77), nextID: 1}
	before := alice.store.Snapshot()
	err := protocol.ProcessPreKeyBundle(ctx, alice.store.Stores(), alice.addr, bob.addr, newBob.bundle(t, true), t0)
	if !errors.Is(err, protocol.ErrUntrustedIdentity) {
		t.Fatalf("bundle with a changed identity: %v", err)
	}
	if !bytes.Equal(before, alice.store.Snapshot()) {
		t.Fatal("a refused bundle changed Alice's stores")
	}
	newBob.startSession(t, alice, true) // publishes fresh prekeys of Alice's
	before = alice.store.Snapshot()
	if _, err := alice.decrypt(newBob, newBob.encrypt(t, alice, "it's me")); !errors.Is(err, protocol.ErrUntrustedIdentity) {
		t.Fatalf("PreKey message with a changed identity: %v", err)
	}
	if !bytes.Equal(before, alice.store.Snapshot()) {
		t.Fatal("a refused identity changed Alice's stores")
	}
	// The user compares safety numbers and accepts the new key.
	ik, _ := newBob.store.IdentityKeyPair(ctx)
	alice.store.AcceptIdentity(bob.addr, ik.Public)
	// The old session's key is now the untrusted one.
	if _, err := protocol.Encrypt(ctx, alice.store.Stores(), alice.addr, bob.addr, []byte("x"), t0); !errors.Is(err, protocol.ErrUntrustedIdentity) {
		t.Fatalf("encrypt on the old identity's session: %v", err)
	}
	alice.mustDecrypt(t, newBob, newBob.encrypt(t, alice, "it's me"), "it's me")
	newBob.mustDecrypt(t, alice, alice.encrypt(t, newBob, "welcome back"), "welcome back")
}

// TestUnacknowledgedSessionExpires: an initiated session that got no reply
// encrypts for 30 days, then refuses with ErrNoSession; a reply lifts the
// limit.
func TestUnacknowledgedSessionExpires(t *testing.T) {
	alice, bob := newDevice(t, aliceName), newDevice(t, bobName)
	alice.startSession(t, bob, true)
	day := 24 * time.Hour
	for _, tc := range []struct {
		at time.Duration
		ok bool
	}{{29 * day, true}, {30 * day, true}, {30*day + time.Second, false}, {31 * day, false}} {
		_, err := protocol.Encrypt(ctx, alice.store.Stores(), alice.addr, bob.addr, []byte("x"), t0.Add(tc.at))
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, protocol.ErrNoSession)) {
			t.Errorf("after %v: %v", tc.at, err)
		}
	}
	bob.mustDecrypt(t, alice, alice.encrypt(t, bob, "hi"), "hi")
	alice.mustDecrypt(t, bob, bob.encrypt(t, alice, "ack"), "ack")
	if _, err := protocol.Encrypt(ctx, alice.store.Stores(), alice.addr, bob.addr, []byte("x"), t0.Add(400*day)); err != nil {
		t.Fatalf("acknowledged session after 400 days: %v", err)
	}
}

// TestNoSession: encrypting without a session, and decrypting a normal
// message without one, fail with ErrNoSession.
func TestNoSession(t *testing.T) {
	alice, bob := newDevice(t, aliceName), newDevice(t, bobName)
	if _, err := protocol.Encrypt(ctx, alice.store.Stores(), alice.addr, bob.addr, []byte("x"), t0); !errors.Is(err, protocol.ErrNoSession) {
		t.Fatalf("encrypt: %v", err)
	}
	alice.startSession(t, bob, false)
	bob.mustDecrypt(t, alice, alice.encrypt(t, bob, "hi"), "hi")
	m := bob.encrypt(t, alice, "normal")
	stranger := newDevice(t, aliceName)
	if _, err := stranger.decrypt(bob, m); !errors.Is(err, protocol.ErrNoSession) {
		t.Fatalf("decrypt without a session: %v", err)
	}
}

// TestSelfSessionHasNoJumpLimit: between two devices of one account (same
// identity key and service ID), a message 30,000 ahead decrypts; between
// different accounts it would be refused.
func TestSelfSessionHasNoJumpLimit(t *testing.T) {
	ik := identity.Generate()
	d1 := &device{addr: protocol.Address{Name: aliceName, DeviceID: 1}, store: memstore.New(ik, 1), nextID: 1}
	d2 := &device{addr: protocol.Address{Name: aliceName, DeviceID: 2}, store: memstore.New(ik, 2), nextID: 1}
	d1.startSession(t, d2, false)
	d2.mustDecrypt(t, d1, d1.encrypt(t, d2, "first"), "first")
	for i := 0; i < 30_000; i++ {
		d1.encrypt(t, d2, "dropped")
	}
	d2.mustDecrypt(t, d1, d1.encrypt(t, d2, "far ahead"), "far ahead")
}
