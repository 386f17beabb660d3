package client

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/wire"
)

// forgeFirstMessage makes what a hostile server can: a real first message
// to b, from b's real bundle, under a fresh identity key of the server's
// choosing, claiming to come from a, sealed for to (b's identity key) in a
// certificate the server mints. fetcher fetches the bundle.
func forgeFirstMessage(t *testing.T, s *skyd, fetcher *user, a, b string, to curve.PublicKey, id, text string) *wire.Envelope {
	t.Helper()
	cn, err := fetcher.c.core.Conn(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	r, err := cn.Call(ctxT(t), &wire.Request{Op: &wire.Request_FetchBundles{FetchBundles: &wire.FetchBundles{Account: b}}})
	if err != nil {
		t.Fatal(err)
	}
	bb, err := core.ToBundle(r.GetBundles().GetBundles()[0])
	if err != nil {
		t.Fatal(err)
	}
	m := newAttacker()
	ms := m.store
	local, remote := protocol.Address{Name: a, DeviceID: 1}, protocol.Address{Name: b, DeviceID: 1}
	if err := protocol.ProcessPreKeyBundle(ctxT(t), ms.Stores(), local, remote, bb, time.Now()); err != nil {
		t.Fatal(err)
	}
	ct, err := protocol.Encrypt(ctxT(t), ms.Stores(), local, remote, fakeText(t, a, b, 99, text), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return m.sealAs(t, s, a, to, []byte(id), append([]byte{byte(ct.Type)}, ct.Bytes...))
}

// TestEvilKeyChangeWhileComparing: the user reads a safety number, compares
// it with the peer in person and confirms it, but in between the server
// presented another identity key for the peer (a first message made with
// it). Confirming must not accept the key the user never saw: Verify is
// given the number the user compared, and refuses with
// ErrSafetyNumberChanged, changing nothing. This holds when no change was
// pending as the user compared, and when one was (the server replaces the
// pending key with its own).
func TestEvilKeyChangeWhileComparing(t *testing.T) {
	s := startSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	ev := startEvil(t, s)
	bob := newUserAt(t, s, ev.url(), testOptions(nil))
	a, b := alice.c.ID(), bob.c.ID()
	alice.send(b, "hello")
	texts(t, bob, 1)
	if err := bob.c.Accept(a); err != nil {
		t.Fatal(err)
	}
	honest := mustSN(t, alice.c, b)

	// No change pending while Bob and Alice compare; the server's key
	// arrives before Bob confirms.
	compared := mustSN(t, bob.c, a)
	if compared.Digits != honest.Digits || compared.Changed {
		t.Fatalf("honest safety numbers differ: %+v", compared)
	}
	if err := ev.conn(b).inject(pushFrame(forgeFirstMessage(t, s, alice, a, b, bob.c.core.Local.KeyPair.Public, "0123456789abcdef", "first forgery"))); err != nil {
		t.Fatal(err)
	}
	next(t, bob, func(e *IdentityChangedEvent) bool { return e.Peer == a })
	if err := bob.c.Verify(ctxT(t), a, compared.Digits); !errors.Is(err, ErrSafetyNumberChanged) {
		t.Fatalf("Verify with the number compared before the server's key arrived: %v", err)
	}
	sn := mustSN(t, bob.c, a)
	if !sn.Changed || sn.Verified || sn.Digits == honest.Digits {
		t.Fatalf("after the refused confirmation: %+v", sn)
	}

	// A change is pending (the server's first key) and Bob reads its
	// number; the server replaces it with a second key before he confirms.
	first := sn
	if err := ev.conn(b).inject(pushFrame(forgeFirstMessage(t, s, alice, a, b, bob.c.core.Local.KeyPair.Public, "fedcba9876543210", "second forgery"))); err != nil {
		t.Fatal(err)
	}
	next(t, bob, func(e *IdentityChangedEvent) bool { return e.Peer == a })
	if err := bob.c.Verify(ctxT(t), a, first.Digits); !errors.Is(err, ErrSafetyNumberChanged) {
		t.Fatalf("Verify with the number of a key the server replaced: %v", err)
	}
	if sn := mustSN(t, bob.c, a); !sn.Changed || sn.Verified || sn.Digits == first.Digits || sn.Digits == honest.Digits {
		t.Fatalf("after the second refused confirmation: %+v", sn)
	}
	if got := historyTexts(t, bob.c, a); !eq(got, []string{"<hello"}) {
		t.Fatalf("bob shows %q", got)
	}

	// Bob keeps Alice's key; the honest number, read out by Alice with
	// spaces, is what verifies it.
	if err := bob.c.KeepIdentity(a); err != nil {
		t.Fatal(err)
	}
	if err := bob.c.Verify(ctxT(t), a, first.Digits); !errors.Is(err, ErrSafetyNumberChanged) {
		t.Fatalf("Verify of the kept key with a forged key's number: %v", err)
	}
	if err := bob.c.Verify(ctxT(t), a, "  "+strings.Join(honest.Groups(), " ")+" "); err != nil {
		t.Fatal(err)
	}
	if sn := mustSN(t, bob.c, a); sn.Changed || !sn.Verified || sn.Digits != honest.Digits {
		t.Fatalf("after verifying the honest key: %+v", sn)
	}
	bob.send(a, "it is you")
	if got := texts(t, alice, 1); got[0] != "it is you" {
		t.Fatalf("alice got %q", got)
	}
}
