package protocol_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/memstore"
	"github.com/skymsg/sky/protocol/prekey"
)

var (
	ctx = context.Background()
	t0  = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

// device is one party of a test: an address, its stores, its prekeys.
type device struct {
	addr   protocol.Address
	store  *memstore.Store
	nextID uint32
}

func newDevice(t testing.TB, name string) *device {
	ik := identity.Generate()
	d := &device{addr: protocol.Address{Name: name, DeviceID: 1}, store: memstore.New(ik, identity.NewRegistrationID()), nextID: 1}
	return d
}

// bundle publishes fresh prekeys (a one-time EC prekey if oneTime) and
// returns the bundle.
func (d *device) bundle(t testing.TB, oneTime bool) *prekey.Bundle {
	ik, _ := d.store.IdentityKeyPair(ctx)
	reg, _ := d.store.LocalRegistrationID(ctx)
	id := d.nextID
	d.nextID++
	spk := prekey.NewSignedPreKey(id, ik, t0)
	kpk := prekey.NewKyberPreKey(id, ik, t0, false)
	d.store.StoreSignedPreKey(spk)
	d.store.StoreKyberPreKey(kpk)
	b := &prekey.Bundle{
		RegistrationID:        reg,
		DeviceID:              d.addr.DeviceID,
		SignedPreKeyID:        spk.ID,
		SignedPreKey:          spk.KeyPair.Public,
		SignedPreKeySignature: spk.Signature[:],
		IdentityKey:           ik.Public,
		KyberPreKeyID:         kpk.ID,
		KyberPreKey:           kpk.KeyPair.Public,
		KyberPreKeySignature:  kpk.Signature[:],
	}
	if oneTime {
		pk := prekey.NewPreKey(id)
		d.store.StorePreKey(pk)
		b.PreKeyID = pk.ID
		b.PreKey = &pk.KeyPair.Public
	}
	return b
}

func (d *device) encrypt(t testing.TB, to *device, pt string) protocol.Ciphertext {
	t.Helper()
	c, err := protocol.Encrypt(ctx, d.store.Stores(), d.addr, to.addr, []byte(pt), t0)
	if err != nil {
		t.Fatalf("%s encrypts for %s: %v", d.addr.Name, to.addr.Name, err)
	}
	return c
}

func (d *device) decrypt(from *device, c protocol.Ciphertext) (string, error) {
	pt, err := protocol.Decrypt(ctx, d.store.Stores(), d.addr, from.addr, c)
	return string(pt), err
}

func (d *device) mustDecrypt(t testing.TB, from *device, c protocol.Ciphertext, want string) {
	t.Helper()
	got, err := d.decrypt(from, c)
	if err != nil || got != want {
		t.Fatalf("%s decrypts from %s: %q, %v; want %q", d.addr.Name, from.addr.Name, got, err, want)
	}
}

func (d *device) startSession(t testing.TB, with *device, oneTime bool) {
	t.Helper()
	if err := protocol.ProcessPreKeyBundle(ctx, d.store.Stores(), d.addr, with.addr, with.bundle(t, oneTime), t0); err != nil {
		t.Fatal(err)
	}
}

const (
	aliceName = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	bobName   = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }
