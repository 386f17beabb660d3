package protostore

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
)

// TestBatchReusesDecodedSession: one Stores decrypting a push of messages
// (copying the session it decoded last instead of parsing it again, with a
// tampered message, a duplicate and a Discard in between) ends with exactly
// the session bytes that decrypting each message in its own transaction
// (parsing every time) gives, from copies of the same store.
func TestBatchReusesDecodedSession(t *testing.T) {
	alice, bob := newDevice(t, "alice"), newDevice(t, "bob")
	bob.mustReceive(t, alice, first(t, alice, bob, bob.bundle(t, true, false)), "hi")
	alice.mustReceive(t, bob, bob.encrypt(t, alice, "hello"), "hello")
	// Bob's DH ratchet step (a fresh random key) happens before the copy;
	// after it, decrypting alice's chain is deterministic.
	bob.mustReceive(t, alice, alice.encrypt(t, bob, "zero"), "zero")
	var cts []protocol.Ciphertext
	for _, text := range []string{"one", "two", "three", "four", "five"} {
		cts = append(cts, alice.encrypt(t, bob, text))
	}
	// bob2 is a copy of bob's store: the same session.
	if err := bob.st.Close(); err != nil {
		t.Fatal(err)
	}
	bob2 := &device{dir: bob.dir + "-copy", local: bob.local, name: bob.name}
	if err := os.CopyFS(bob2.dir, os.DirFS(bob.dir)); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*device{bob, bob2} {
		st, err := store.Open(d.dir, pass)
		if err != nil {
			t.Fatal(err)
		}
		d.st = st
	}
	t.Cleanup(func() { bob2.st.Close() })

	tampered := protocol.Ciphertext{Type: cts[1].Type, Bytes: bytes.Clone(cts[1].Bytes)}
	tampered.Bytes[len(tampered.Bytes)-1] ^= 1
	err := bob.st.Update(func(tx *store.Tx) error {
		ps := New(tx, bob.local, t0)
		for i, ct := range []protocol.Ciphertext{cts[0], tampered, cts[1], cts[1], cts[2], cts[3], cts[4]} {
			_, err := protocol.Decrypt(ctx, ps.Protocol(), bob.addr(), alice.addr(), ct)
			switch {
			case i == 1 || i == 3: // tampered, duplicate
				if err == nil {
					t.Errorf("message %d decrypted", i)
				}
				ps.Discard()
				continue
			case err != nil:
				return err
			case i == 4: // decrypted but not kept
				ps.Discard()
				continue
			}
			if err := ps.Commit(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, ct := range cts {
		if i == 2 {
			continue // discarded above: bob keeps it as skipped
		}
		if _, err := bob2.receive(alice, ct); err != nil {
			t.Fatalf("message %d, one transaction each: %v", i, err)
		}
	}
	session := func(d *device) []byte {
		var b []byte
		if err := d.st.View(func(tx *store.Tx) error {
			v, err := tx.Session(store.Address{Name: alice.name, Device: 1})
			b = v
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return b
	}
	if !bytes.Equal(session(bob), session(bob2)) {
		t.Fatal("the session after a batch differs from the session after one transaction per message")
	}
	// Both can still decrypt message 2, kept as a skipped key by each.
	for _, d := range []*device{bob, bob2} {
		if _, err := d.receive(alice, cts[2]); err != nil && !errors.Is(err, protocol.ErrDuplicateMessage) {
			t.Fatalf("%s: skipped message: %v", d.dir, err)
		}
	}
}
