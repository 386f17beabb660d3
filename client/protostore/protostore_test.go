package protostore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/client/store/keyfile"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/prekey"
)

// device is a store with an identity and prekeys.
type device struct {
	st    *store.Store
	local Local
	name  string
}

func newDevice(t *testing.T, name string) *device {
	t.Helper()
	st, err := store.Create(filepath.Join(t.TempDir(), name), []byte("pw"), store.Options{KDF: keyfile.Params{Time: 1, MemoryKiB: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &device{st: st, local: Local{KeyPair: identity.Generate(), RegistrationID: 7}, name: name}
}

func (d *device) addr() protocol.Address { return protocol.Address{Name: d.name, DeviceID: 1} }

// bundle stores prekeys and returns the bundle for them.
func (d *device) bundle(t *testing.T, lastResort bool) *prekey.Bundle {
	t.Helper()
	spk := prekey.NewSignedPreKey(1, d.local.KeyPair, time.Now())
	ky := prekey.NewKyberPreKey(2, d.local.KeyPair, time.Now(), lastResort)
	otk := prekey.NewPreKey(3)
	err := d.st.Update(func(tx *store.Tx) error {
		for _, r := range []struct {
			k  store.PreKeyKind
			id uint32
			m  interface{ MarshalBinary() ([]byte, error) }
		}{{store.SignedPreKey, 1, spk}, {store.KyberPreKey, 2, ky}, {store.OneTimePreKey, 3, otk}} {
			b, _ := r.m.MarshalBinary()
			if err := tx.PutPreKey(r.k, r.id, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pk := otk.KeyPair.Public
	return &prekey.Bundle{RegistrationID: 7, DeviceID: 1, PreKeyID: 3, PreKey: &pk, SignedPreKeyID: 1, SignedPreKey: spk.KeyPair.Public,
		SignedPreKeySignature: spk.Signature[:], IdentityKey: d.local.KeyPair.Public, KyberPreKeyID: 2, KyberPreKey: ky.KeyPair.Public,
		KyberPreKeySignature: ky.Signature[:]}
}

// first makes a first message from a to b.
func first(t *testing.T, a, b *device, bundle *prekey.Bundle) protocol.Ciphertext {
	t.Helper()
	var ct protocol.Ciphertext
	err := a.st.Update(func(tx *store.Tx) error {
		ps := New(tx, a.local, time.Now())
		if err := protocol.ProcessPreKeyBundle(context.Background(), ps.Protocol(), a.addr(), b.addr(), bundle, time.Now()); err != nil {
			return err
		}
		var err error
		if ct, err = protocol.Encrypt(context.Background(), ps.Protocol(), a.addr(), b.addr(), []byte("hi"), time.Now()); err != nil {
			return err
		}
		return ps.Commit()
	})
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

// decrypt decrypts at d and then commits, discards or trials.
func decrypt(t *testing.T, d, from *device, ct protocol.Ciphertext, mode string) error {
	t.Helper()
	return d.st.Update(func(tx *store.Tx) error {
		ps := New(tx, d.local, time.Now())
		if mode == "trial" {
			ps.Trial(from.addr(), from.local.KeyPair.Public)
		}
		if _, err := protocol.Decrypt(context.Background(), ps.Protocol(), d.addr(), from.addr(), ct); err != nil {
			return err
		}
		switch mode {
		case "discard", "trial":
			ps.Discard()
			return nil
		}
		return ps.Commit()
	})
}

func TestDiscardKeepsNothing(t *testing.T) {
	a, b := newDevice(t, "alice"), newDevice(t, "bob")
	ct := first(t, a, b, b.bundle(t, false))
	if err := decrypt(t, b, a, ct, "discard"); err != nil {
		t.Fatal(err)
	}
	// Nothing was kept: no session, no pin, the one-time keys are still there.
	b.st.View(func(tx *store.Tx) error {
		if _, err := tx.Session(store.Address{Name: "alice", Device: 1}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a discarded decryption kept a session: %v", err)
		}
		if _, ok, _ := Pinned(tx, a.addr()); ok {
			t.Error("a discarded decryption pinned a key")
		}
		if _, err := tx.PreKey(store.OneTimePreKey, 3); err != nil {
			t.Errorf("a discarded decryption used the one-time prekey: %v", err)
		}
		return nil
	})
	// The same message then decrypts for real, once.
	if err := decrypt(t, b, a, ct, "commit"); err != nil {
		t.Fatal(err)
	}
	if err := decrypt(t, b, a, ct, "commit"); err == nil {
		t.Fatal("a committed first message decrypted twice")
	}
}

func TestChangedKeyIsUntrustedButTrialDecrypts(t *testing.T) {
	a, b, m := newDevice(t, "alice"), newDevice(t, "bob"), newDevice(t, "alice")
	bundle := b.bundle(t, true)
	if err := decrypt(t, b, a, first(t, a, b, bundle), "commit"); err != nil {
		t.Fatal(err)
	}
	// m claims Alice's name with another key (the one-time prekey is gone;
	// the last-resort Kyber key remains).
	nb := *bundle
	nb.PreKey, nb.PreKeyID = nil, 0
	ct := first(t, m, b, &nb)
	if err := decrypt(t, b, m, ct, "commit"); !errors.Is(err, protocol.ErrUntrustedIdentity) {
		t.Fatalf("a changed key: %v", err)
	}
	if err := decrypt(t, b, m, ct, "trial"); err != nil {
		t.Fatalf("trial decryption: %v", err)
	}
	// The trial kept nothing: the pin is Alice's and the last-resort use was
	// not recorded, so the message still decrypts once the key is accepted.
	b.st.Update(func(tx *store.Tx) error {
		k, _, _ := Pinned(tx, a.addr())
		if k != a.local.KeyPair.Public {
			t.Error("the trial replaced the pin")
		}
		return tx.PutPeerIdentity(store.Address{Name: "alice", Device: 1}, store.PeerIdentity{Key: m.local.KeyPair.Public.Bytes()})
	})
	if err := decrypt(t, b, m, ct, "commit"); err != nil {
		t.Fatalf("after accepting the key: %v", err)
	}
	// A replay of that first message is refused by the last-resort guard.
	if err := decrypt(t, b, m, ct, "commit"); err == nil {
		t.Fatal("a replayed first message decrypted")
	}
	// Commit refuses while a trial is set.
	b.st.Update(func(tx *store.Tx) error {
		ps := New(tx, b.local, time.Now())
		ps.Trial(a.addr(), a.local.KeyPair.Public)
		if err := ps.Commit(); !errors.Is(err, ErrTrial) {
			t.Errorf("Commit during a trial: %v", err)
		}
		return nil
	})
}
