package memstore

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/prekey"
)

var ctx = context.Background()

func TestTrustOnFirstUse(t *testing.T) {
	s := New(identity.Generate(), 1)
	addr := protocol.Address{Name: "x", DeviceID: 1}
	k1, k2 := curve.GenerateKeyPair().Public, curve.GenerateKeyPair().Public
	if ok, _ := s.IsTrustedIdentity(ctx, addr, k1, protocol.Sending); !ok {
		t.Fatal("first key not trusted")
	}
	if err := s.SaveIdentity(ctx, addr, k1); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.IsTrustedIdentity(ctx, addr, k2, protocol.Receiving); ok {
		t.Fatal("a changed key is trusted")
	}
	if err := s.SaveIdentity(ctx, addr, k2); !errors.Is(err, protocol.ErrUntrustedIdentity) {
		t.Fatalf("SaveIdentity replaced a recorded key: %v", err)
	}
	if got, _ := s.Identity(addr); got != k1 {
		t.Fatal("recorded key changed")
	}
	s.AcceptIdentity(addr, k2)
	if ok, _ := s.IsTrustedIdentity(ctx, addr, k2, protocol.Sending); !ok {
		t.Fatal("accepted key not trusted")
	}
	s.TrustAll = true
	if ok, _ := s.IsTrustedIdentity(ctx, addr, k1, protocol.Sending); !ok || s.SaveIdentity(ctx, addr, k1) != nil {
		t.Fatal("TrustAll does not trust and record")
	}
}

func TestKyberPreKeyUse(t *testing.T) {
	ik := identity.Generate()
	s := New(ik, 1)
	now := time.Unix(1e9, 0)
	one := prekey.NewKyberPreKey(1, ik, now, false)
	last := prekey.NewKyberPreKey(2, ik, now, true)
	s.StoreKyberPreKey(one)
	s.StoreKyberPreKey(last)
	base := curve.GenerateKeyPair().Public
	if err := s.MarkKyberPreKeyUsed(ctx, 1, 5, base); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := s.LoadKyberPreKey(ctx, 1); found {
		t.Fatal("one-time Kyber prekey kept after use")
	}
	if err := s.MarkKyberPreKeyUsed(ctx, 2, 5, base); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkKyberPreKeyUsed(ctx, 2, 5, base); !errors.Is(err, protocol.ErrInvalidMessage) {
		t.Fatalf("replayed base key with a last-resort key: %v", err)
	}
	if err := s.MarkKyberPreKeyUsed(ctx, 2, 6, base); err != nil {
		t.Fatalf("same base key with another signed prekey: %v", err)
	}
	if _, found, _ := s.LoadKyberPreKey(ctx, 2); !found {
		t.Fatal("last-resort key deleted")
	}
}

func TestSnapshotAndClone(t *testing.T) {
	ik := identity.Generate()
	s := New(ik, 1)
	s.StorePreKey(prekey.NewPreKey(3))
	c := s.Clone()
	if !bytes.Equal(s.Snapshot(), c.Snapshot()) {
		t.Fatal("clone differs")
	}
	c.RemovePreKey(ctx, 3)
	if bytes.Equal(s.Snapshot(), c.Snapshot()) || s.PreKeyCount() != 1 {
		t.Fatal("clone shares state")
	}
	if _, found, err := s.LoadPreKey(ctx, 3); !found || err != nil {
		t.Fatal("prekey lost")
	}
	if _, found, err := s.LoadPreKey(ctx, 4); found || err != nil {
		t.Fatal("unknown prekey found")
	}
}

// TestSessionRewrittenInPlace: StoreSession reuses the stored encoding's
// memory, so nothing handed out earlier may share it — not a loaded record,
// not a clone of the store.
func TestSessionRewrittenInPlace(t *testing.T) {
	alice, bob := identity.Generate(), identity.Generate()
	as, bs := New(alice, 1), New(bob, 2)
	aAddr, bAddr := protocol.Address{Name: "alice", DeviceID: 1}, protocol.Address{Name: "bob", DeviceID: 1}
	now := time.Unix(1e9, 0)
	spk, kpk := prekey.NewSignedPreKey(1, bob, now), prekey.NewKyberPreKey(1, bob, now, false)
	bs.StoreSignedPreKey(spk)
	bs.StoreKyberPreKey(kpk)
	bundle := &prekey.Bundle{
		RegistrationID: 2, DeviceID: 1, IdentityKey: bob.Public,
		SignedPreKeyID: 1, SignedPreKey: spk.KeyPair.Public, SignedPreKeySignature: spk.Signature[:],
		KyberPreKeyID: 1, KyberPreKey: kpk.KeyPair.Public, KyberPreKeySignature: kpk.Signature[:],
	}
	if err := protocol.ProcessPreKeyBundle(ctx, as.Stores(), aAddr, bAddr, bundle, now); err != nil {
		t.Fatal(err)
	}
	encode := func(r *protocol.SessionRecord) []byte {
		b, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	loaded, err := as.LoadSession(ctx, bAddr)
	if err != nil || loaded == nil {
		t.Fatal("session not stored", err)
	}
	before := encode(loaded)
	clone := as.Clone()
	// Each message moves the sending chain: the stored record is rewritten
	// (in place, as it keeps its size) every time.
	for i := range 3 {
		if _, err := protocol.Encrypt(ctx, as.Stores(), aAddr, bAddr, []byte{byte(i)}, now); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := as.LoadSession(ctx, bAddr)
	if bytes.Equal(encode(after), before) {
		t.Fatal("the stored record did not change")
	}
	if !bytes.Equal(encode(loaded), before) {
		t.Fatal("a record loaded before the rewrite changed with it")
	}
	if c, _ := clone.LoadSession(ctx, bAddr); c == nil || !bytes.Equal(encode(c), before) {
		t.Fatal("a clone of the store changed with the rewrite")
	}
}
