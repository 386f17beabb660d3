package protostore

import (
	"context"
	"errors"
	"fmt"
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
	pass = []byte("pw")
)

// device is one party with its own encrypted store on disk, an identity
// (kept by the client in memory, as client.Client does) and prekeys.
type device struct {
	st    *store.Store
	dir   string
	local Local
	name  string
}

func newDevice(t testing.TB, name string) *device {
	t.Helper()
	d := &device{dir: filepath.Join(t.TempDir(), name), local: Local{KeyPair: identity.Generate(), RegistrationID: 7}, name: name}
	st, err := store.Create(d.dir, pass, store.Options{KDF: keyfile.Params{Time: 1, MemoryKiB: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	d.st = st
	t.Cleanup(func() { d.st.Close() })
	return d
}

func (d *device) addr() protocol.Address { return protocol.Address{Name: d.name, DeviceID: 1} }

// restart closes and reopens the device's store, as a client restart does.
func (d *device) restart(t testing.TB) {
	t.Helper()
	if err := d.st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(d.dir, pass)
	if err != nil {
		t.Fatal(err)
	}
	d.st = st
}

// bundle stores prekeys (signed 1, Kyber 2 and, with oneTime, one-time 3)
// and returns the bundle a server would hand out for them.
func (d *device) bundle(t testing.TB, oneTime, lastResort bool) *prekey.Bundle {
	t.Helper()
	spk := prekey.NewSignedPreKey(1, d.local.KeyPair, t0)
	ky := prekey.NewKyberPreKey(2, d.local.KeyPair, t0, lastResort)
	otk := prekey.NewPreKey(3)
	type rec struct {
		k  store.PreKeyKind
		id uint32
		m  interface{ MarshalBinary() ([]byte, error) }
	}
	recs := []rec{{store.SignedPreKey, 1, spk}, {store.KyberPreKey, 2, ky}}
	if oneTime {
		recs = append(recs, rec{store.OneTimePreKey, 3, otk})
	}
	err := d.st.Update(func(tx *store.Tx) error {
		for _, r := range recs {
			b, err := r.m.MarshalBinary()
			if err != nil {
				return err
			}
			if err := tx.PutPreKey(r.k, r.id, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b := &prekey.Bundle{RegistrationID: 7, DeviceID: 1, SignedPreKeyID: 1, SignedPreKey: spk.KeyPair.Public,
		SignedPreKeySignature: spk.Signature[:], IdentityKey: d.local.KeyPair.Public, KyberPreKeyID: 2, KyberPreKey: ky.KeyPair.Public,
		KyberPreKeySignature: ky.Signature[:]}
	if oneTime {
		pk := otk.KeyPair.Public
		b.PreKeyID, b.PreKey = 3, &pk
	}
	return b
}

// start processes peer's bundle at d, as sending a first message does.
func (d *device) start(b *prekey.Bundle, peer *device) error {
	return d.st.Update(func(tx *store.Tx) error {
		ps := New(tx, d.local, t0)
		if err := protocol.ProcessPreKeyBundle(ctx, ps.Protocol(), d.addr(), peer.addr(), b, t0); err != nil {
			return err
		}
		return ps.Commit()
	})
}

func (d *device) encrypt(t testing.TB, to *device, text string) protocol.Ciphertext {
	t.Helper()
	var ct protocol.Ciphertext
	err := d.st.Update(func(tx *store.Tx) error {
		ps := New(tx, d.local, t0)
		var err error
		if ct, err = protocol.Encrypt(ctx, ps.Protocol(), d.addr(), to.addr(), []byte(text), t0); err != nil {
			return err
		}
		return ps.Commit()
	})
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

// first makes a first message from a to b.
func first(t testing.TB, a, b *device, bundle *prekey.Bundle) protocol.Ciphertext {
	t.Helper()
	if err := a.start(bundle, b); err != nil {
		t.Fatal(err)
	}
	return a.encrypt(t, b, "hi")
}

// receive decrypts ct and keeps the session state and the message in one
// transaction, as the client does.
func (d *device) receive(from *device, ct protocol.Ciphertext) (string, error) {
	var text string
	err := d.st.Update(func(tx *store.Tx) error {
		ps := New(tx, d.local, t0)
		pt, err := protocol.Decrypt(ctx, ps.Protocol(), d.addr(), from.addr(), ct)
		if err != nil {
			return err
		}
		if err := ps.Commit(); err != nil {
			return err
		}
		text = string(pt)
		return tx.AddMessage(&store.Message{Conversation: from.name, Sender: from.name, Body: store.Secret(pt), SentAt: t0})
	})
	return text, err
}

func (d *device) mustReceive(t testing.TB, from *device, ct protocol.Ciphertext, want string) {
	t.Helper()
	got, err := d.receive(from, ct)
	if err != nil || got != want {
		t.Fatalf("%s receives %q, %v; want %q", d.name, got, err, want)
	}
}

func (d *device) preKeyIDs(t testing.TB, kind store.PreKeyKind) []uint32 {
	t.Helper()
	var ids []uint32
	err := d.st.View(func(tx *store.Tx) (err error) { ids, err = tx.PreKeyIDs(kind); return })
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// decrypt decrypts at d and then commits, discards or trials.
func decrypt(t *testing.T, d, from *device, ct protocol.Ciphertext, mode string) error {
	t.Helper()
	return d.st.Update(func(tx *store.Tx) error {
		ps := New(tx, d.local, t0)
		if mode == "trial" {
			ps.Trial(from.addr(), from.local.KeyPair.Public)
		}
		if _, err := protocol.Decrypt(ctx, ps.Protocol(), d.addr(), from.addr(), ct); err != nil {
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

// TestConversationOverEncryptedStores runs PQXDH and the ratchet between two
// devices whose whole protocol state lives in encrypted stores on disk, with
// restarts of both in the middle: one-time prekeys are consumed, a replayed
// first message is refused, and each message is kept once.
func TestConversationOverEncryptedStores(t *testing.T) {
	alice, bob := newDevice(t, "alice"), newDevice(t, "bob")
	if err := alice.start(bob.bundle(t, true, false), bob); err != nil {
		t.Fatal(err)
	}
	hello := alice.encrypt(t, bob, "hello bob")
	if hello.Type != protocol.TypePreKey {
		t.Fatalf("first message type %v", hello.Type)
	}
	bob.mustReceive(t, alice, hello, "hello bob")
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
	if _, err := bob.receive(alice, hello); err == nil {
		t.Fatal("a replayed first message decrypted again")
	}
	var n int
	err := bob.st.View(func(tx *store.Tx) error {
		ms, err := tx.Messages("alice", 0, 0)
		n = len(ms)
		return err
	})
	if err != nil || n != 3 {
		t.Fatalf("bob's history holds %d messages from alice (%v), want 3", n, err)
	}
}

// TestFailedDecryptionChangesNothing: a message that fails to decrypt
// leaves the session as it was, whether its transaction is rolled back or the
// same Stores goes on to decrypt the next message, so the next good message
// decrypts.
func TestFailedDecryptionChangesNothing(t *testing.T) {
	for _, sameStores := range []bool{false, true} {
		t.Run(fmt.Sprintf("sameStores=%t", sameStores), func(t *testing.T) {
			alice, bob := newDevice(t, "alice"), newDevice(t, "bob")
			bob.mustReceive(t, alice, first(t, alice, bob, bob.bundle(t, true, false)), "hi")
			alice.mustReceive(t, bob, bob.encrypt(t, alice, "reply"), "reply")
			good := alice.encrypt(t, bob, "two")
			if good.Type != protocol.TypeWhisper {
				t.Fatalf("message type %v after a reply", good.Type)
			}
			bad := protocol.Ciphertext{Type: good.Type, Bytes: slices.Clone(good.Bytes)}
			bad.Bytes[len(bad.Bytes)-1] ^= 1 // the MAC
			if !sameStores {
				if _, err := bob.receive(alice, bad); !errors.Is(err, protocol.ErrInvalidMessage) {
					t.Fatalf("tampered message: %v", err)
				}
				bob.mustReceive(t, alice, good, "two")
				return
			}
			err := bob.st.Update(func(tx *store.Tx) error {
				ps := New(tx, bob.local, t0)
				if _, err := protocol.Decrypt(ctx, ps.Protocol(), bob.addr(), alice.addr(), bad); !errors.Is(err, protocol.ErrInvalidMessage) {
					return fmt.Errorf("tampered message: %v", err)
				}
				pt, err := protocol.Decrypt(ctx, ps.Protocol(), bob.addr(), alice.addr(), good)
				if err != nil || string(pt) != "two" {
					return fmt.Errorf("the good message after a tampered one: %q, %v", pt, err)
				}
				return ps.Commit()
			})
			if err != nil {
				t.Fatal(err)
			}
			bob.mustReceive(t, alice, alice.encrypt(t, bob, "three"), "three")
		})
	}
}

// TestLastResortKyberReplayRefused: a first message replayed after the
// session was dropped reuses a last-resort Kyber prekey with the same base
// key, and is refused, also after a restart.
func TestLastResortKyberReplayRefused(t *testing.T) {
	alice, bob := newDevice(t, "alice"), newDevice(t, "bob")
	bundle := bob.bundle(t, false, true)
	hello := first(t, alice, bob, bundle)
	bob.mustReceive(t, alice, hello, "hi")
	if ids := bob.preKeyIDs(t, store.KyberPreKey); !slices.Equal(ids, []uint32{2}) {
		t.Fatalf("Kyber prekeys after a first message %v, want the last-resort key 2 kept", ids)
	}
	if err := bob.st.Update(func(tx *store.Tx) error { return tx.DeleteSessions("alice") }); err != nil {
		t.Fatal(err)
	}
	bob.restart(t)
	if _, err := bob.receive(alice, hello); !errors.Is(err, protocol.ErrInvalidMessage) {
		t.Fatalf("replayed first message: %v, want ErrInvalidMessage", err)
	}
	// A first message with a fresh base key still uses the same prekeys.
	alice2 := newDevice(t, "alice") // alice on a new store, same identity
	alice2.local = alice.local
	bob.mustReceive(t, alice2, first(t, alice2, bob, bundle), "hi")
}

// TestChangedIdentityIsUntrusted: a bundle that carries a new identity key
// for a pinned peer is refused until the user accepts the key (the client
// replaces the pin); then the session starts and the peer reads it.
func TestChangedIdentityIsUntrusted(t *testing.T) {
	alice, bob := newDevice(t, "alice"), newDevice(t, "bob")
	if err := alice.start(bob.bundle(t, true, false), bob); err != nil {
		t.Fatal(err)
	}
	bob2 := newDevice(t, "bob") // bob reinstalled: a new identity
	b := bob2.bundle(t, true, false)
	if err := alice.start(b, bob2); !errors.Is(err, protocol.ErrUntrustedIdentity) {
		t.Fatalf("new identity: %v, want ErrUntrustedIdentity", err)
	}
	err := alice.st.Update(func(tx *store.Tx) error {
		if k, ok, err := Pinned(tx, bob.addr()); err != nil || !ok || k != bob.local.KeyPair.Public {
			return fmt.Errorf("the refused bundle changed the pin: %v %v", ok, err)
		}
		return tx.PutPeerIdentity(store.Address{Name: "bob", Device: 1}, store.PeerIdentity{Key: b.IdentityKey.Bytes(), FirstSeen: t0})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.start(b, bob2); err != nil {
		t.Fatalf("after accepting the new identity: %v", err)
	}
	bob2.mustReceive(t, alice, alice.encrypt(t, bob2, "welcome back"), "welcome back")
}

func TestDiscardKeepsNothing(t *testing.T) {
	a, b := newDevice(t, "alice"), newDevice(t, "bob")
	ct := first(t, a, b, b.bundle(t, true, false))
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
	bundle := b.bundle(t, true, true)
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
		ps := New(tx, b.local, t0)
		ps.Trial(a.addr(), a.local.KeyPair.Public)
		if err := ps.Commit(); !errors.Is(err, ErrTrial) {
			t.Errorf("Commit during a trial: %v", err)
		}
		return nil
	})
}

// BenchmarkReceive is the cost of one received 100-byte message on an
// established session, with persistence: dedupe record, decryption (a
// ratchet step), the new session state and the message, in one durable
// transaction. client.BenchmarkReceive adds the client's own work.
func BenchmarkReceive(b *testing.B) {
	alice, bob := newDevice(b, "alice"), newDevice(b, "bob")
	bob.mustReceive(b, alice, first(b, alice, bob, bob.bundle(b, true, false)), "hi")
	alice.mustReceive(b, bob, bob.encrypt(b, alice, "reply"), "reply")
	text := string(make([]byte, 100))
	var cts []protocol.Ciphertext
	i := 0
	for b.Loop() {
		if len(cts) == 0 {
			b.StopTimer()
			for range 1024 {
				cts = append(cts, alice.encrypt(b, bob, text))
			}
			b.StartTimer()
		}
		ct := cts[0]
		cts = cts[1:]
		i++
		err := bob.st.Update(func(tx *store.Tx) error {
			if fresh, err := tx.MarkSeen(fmt.Sprint("alice/", i), t0); err != nil || !fresh {
				return fmt.Errorf("dedupe: %v, %v", fresh, err)
			}
			ps := New(tx, bob.local, t0)
			pt, err := protocol.Decrypt(ctx, ps.Protocol(), bob.addr(), alice.addr(), ct)
			if err != nil {
				return err
			}
			if err := ps.Commit(); err != nil {
				return err
			}
			return tx.AddMessage(&store.Message{Conversation: "alice", Sender: "alice", Body: store.Secret(pt), SentAt: t0})
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
