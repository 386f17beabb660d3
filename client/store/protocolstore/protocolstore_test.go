package protocolstore

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/client/store/keyfile"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/prekey"
)

var (
	ctx  = context.Background()
	t0   = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	pass = []byte("passphrase")
)

// device is one party with its own encrypted store on disk.
type device struct {
	addr protocol.Address
	dir  string
	st   *store.Store
	next uint32
}

func newDevice(t testing.TB, name string) *device {
	t.Helper()
	d := &device{addr: protocol.Address{Name: name, DeviceID: 1}, dir: filepath.Join(t.TempDir(), name), next: 1}
	st, err := store.Create(d.dir, pass, store.Options{KDF: keyfile.Params{Time: 1, MemoryKiB: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	d.st = st
	t.Cleanup(func() { d.st.Close() })
	d.update(t, func(tx *store.Tx) error { return SetIdentity(tx, identity.Generate(), identity.NewRegistrationID()) })
	return d
}

func (d *device) update(t testing.TB, fn func(*store.Tx) error) {
	t.Helper()
	if err := d.st.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// restart closes and reopens the device's store, as a client restart does.
func (d *device) restart(t testing.TB) {
	t.Helper()
	d.st.Close()
	st, err := store.Open(d.dir, pass)
	if err != nil {
		t.Fatal(err)
	}
	d.st = st
}

// bundle stores fresh prekeys and returns the bundle a server would hand out.
func (d *device) bundle(t testing.TB, oneTime, lastResort bool) *prekey.Bundle {
	t.Helper()
	var b *prekey.Bundle
	d.update(t, func(tx *store.Tx) error {
		ps := New(tx, t0)
		ik, err := ps.IdentityKeyPair(ctx)
		if err != nil {
			return err
		}
		reg, _ := ps.LocalRegistrationID(ctx)
		id := d.next
		d.next++
		spk := prekey.NewSignedPreKey(id, ik, t0)
		kpk := prekey.NewKyberPreKey(id, ik, t0, lastResort)
		b = &prekey.Bundle{
			RegistrationID: reg, DeviceID: d.addr.DeviceID, IdentityKey: ik.Public,
			SignedPreKeyID: spk.ID, SignedPreKey: spk.KeyPair.Public, SignedPreKeySignature: spk.Signature[:],
			KyberPreKeyID: kpk.ID, KyberPreKey: kpk.KeyPair.Public, KyberPreKeySignature: kpk.Signature[:],
		}
		errs := []error{StoreSignedPreKey(tx, spk), StoreKyberPreKey(tx, kpk)}
		if oneTime {
			pk := prekey.NewPreKey(id)
			b.PreKeyID, b.PreKey = pk.ID, &pk.KeyPair.Public
			errs = append(errs, StorePreKey(tx, pk))
		}
		return errors.Join(errs...)
	})
	return b
}

func (d *device) start(t testing.TB, b *prekey.Bundle, with *device) error {
	return d.st.Update(func(tx *store.Tx) error {
		return protocol.ProcessPreKeyBundle(ctx, New(tx, t0).Stores(), d.addr, with.addr, b, t0)
	})
}

func (d *device) encrypt(t testing.TB, to *device, text string) protocol.Ciphertext {
	t.Helper()
	var c protocol.Ciphertext
	d.update(t, func(tx *store.Tx) (err error) {
		c, err = protocol.Encrypt(ctx, New(tx, t0).Stores(), d.addr, to.addr, []byte(text), t0)
		return err
	})
	return c
}

// receive decrypts c and stores the message in the same transaction.
func (d *device) receive(from *device, c protocol.Ciphertext) (string, error) {
	var text string
	err := d.st.Update(func(tx *store.Tx) error {
		pt, err := protocol.Decrypt(ctx, New(tx, t0).Stores(), d.addr, from.addr, c)
		if err != nil {
			return err
		}
		text = string(pt)
		return tx.AddMessage(&store.Message{Conversation: from.addr.Name, Sender: from.addr.Name, Body: store.Secret(pt), SentAt: t0})
	})
	return text, err
}

func (d *device) mustReceive(t testing.TB, from *device, c protocol.Ciphertext, want string) {
	t.Helper()
	got, err := d.receive(from, c)
	if err != nil || got != want {
		t.Fatalf("%s receives %q, %v; want %q", d.addr.Name, got, err, want)
	}
}

func (d *device) preKeyIDs(t testing.TB, kind store.PreKeyKind) []uint32 {
	t.Helper()
	var ids []uint32
	d.st.View(func(tx *store.Tx) (err error) { ids, err = tx.PreKeyIDs(kind); return })
	return ids
}

// TestConversationOverEncryptedStores runs PQXDH and the ratchet between two
// devices whose whole protocol state lives in encrypted stores on disk, with
// restarts of both in the middle.
func TestConversationOverEncryptedStores(t *testing.T) {
	alice, bob := newDevice(t, "alice"), newDevice(t, "bob")
	if err := alice.start(t, bob.bundle(t, true, false), bob); err != nil {
		t.Fatal(err)
	}
	first := alice.encrypt(t, bob, "hello bob")
	if first.Type != protocol.TypePreKey {
		t.Fatalf("first message type %v", first.Type)
	}
	bob.mustReceive(t, alice, first, "hello bob")
	if ids := bob.preKeyIDs(t, store.OneTimePreKey); len(ids) != 0 {
		t.Fatalf("one-time prekey not consumed: %v", ids)
	}
	if ids := bob.preKeyIDs(t, store.KyberPreKey); len(ids) != 0 {
		t.Fatalf("one-time Kyber prekey not consumed: %v", ids)
	}
	alice.mustReceive(t, bob, bob.encrypt(t, alice, "hi alice"), "hi alice")

	alice.restart(t)
	bob.restart(t)
	for i, text := range []string{"after restart 1", "after restart 2"} {
		alice.mustReceive(t, bob, bob.encrypt(t, alice, text+" from bob"), text+" from bob")
		bob.mustReceive(t, alice, alice.encrypt(t, bob, text+" from alice"), text+" from alice")
		if i == 0 {
			bob.restart(t)
		}
	}
	if _, err := bob.receive(alice, first); err == nil {
		t.Fatal("a replayed first message decrypted again")
	}
	var n int
	bob.st.View(func(tx *store.Tx) error {
		ms, err := tx.Messages("alice", 0, 0)
		n = len(ms)
		return err
	})
	if n != 3 {
		t.Fatalf("bob's history holds %d messages from alice, want 3", n)
	}
}

// TestFailedDecryptionChangesNothing: a message that fails to decrypt inside
// Update leaves the session as it was, so the next good message decrypts.
func TestFailedDecryptionChangesNothing(t *testing.T) {
	alice, bob := newDevice(t, "alice"), newDevice(t, "bob")
	if err := alice.start(t, bob.bundle(t, true, false), bob); err != nil {
		t.Fatal(err)
	}
	bob.mustReceive(t, alice, alice.encrypt(t, bob, "one"), "one")
	alice.mustReceive(t, bob, bob.encrypt(t, alice, "reply"), "reply")
	good := alice.encrypt(t, bob, "two")
	if good.Type != protocol.TypeWhisper {
		t.Fatalf("message type %v after a reply", good.Type)
	}
	bad := protocol.Ciphertext{Type: good.Type, Bytes: slices.Clone(good.Bytes)}
	bad.Bytes[len(bad.Bytes)-1] ^= 1 // the MAC
	if _, err := bob.receive(alice, bad); !errors.Is(err, protocol.ErrInvalidMessage) {
		t.Fatalf("tampered message: %v", err)
	}
	bob.mustReceive(t, alice, good, "two")
}

// TestLastResortKyberReplayRefused: a first message replayed after the
// session was dropped reuses a last-resort Kyber prekey with the same base
// key, and is refused.
func TestLastResortKyberReplayRefused(t *testing.T) {
	alice, bob := newDevice(t, "alice"), newDevice(t, "bob")
	if err := alice.start(t, bob.bundle(t, false, true), bob); err != nil {
		t.Fatal(err)
	}
	first := alice.encrypt(t, bob, "hello")
	bob.mustReceive(t, alice, first, "hello")
	if ids := bob.preKeyIDs(t, store.KyberPreKey); len(ids) != 1 {
		t.Fatalf("last-resort Kyber prekey was deleted: %v", ids)
	}
	bob.update(t, func(tx *store.Tx) error { return tx.DeleteSessions("alice") })
	if _, err := bob.receive(alice, first); !errors.Is(err, protocol.ErrInvalidMessage) {
		t.Fatalf("replayed first message: %v, want ErrInvalidMessage", err)
	}
}

// TestChangedIdentityIsUntrusted: a new identity key for a pinned peer is
// refused until the user accepts it.
func TestChangedIdentityIsUntrusted(t *testing.T) {
	alice, bob := newDevice(t, "alice"), newDevice(t, "bob")
	if err := alice.start(t, bob.bundle(t, true, false), bob); err != nil {
		t.Fatal(err)
	}
	bob2 := newDevice(t, "bob") // bob reinstalled: a new identity
	b := bob2.bundle(t, true, false)
	if err := alice.start(t, b, bob2); !errors.Is(err, protocol.ErrUntrustedIdentity) {
		t.Fatalf("new identity: %v, want ErrUntrustedIdentity", err)
	}
	alice.update(t, func(tx *store.Tx) error { return AcceptIdentity(tx, bob2.addr, b.IdentityKey, false, t0) })
	if err := alice.start(t, b, bob2); err != nil {
		t.Fatalf("after accepting the new identity: %v", err)
	}
	bob2.mustReceive(t, alice, alice.encrypt(t, bob2, "welcome back"), "welcome back")
}
