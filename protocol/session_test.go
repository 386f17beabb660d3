package protocol_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/skymsg/sky/protocol"
)

func TestBasicConversation(t *testing.T) {
	for _, oneTime := range []bool{true, false} {
		alice, bob := newDevice(t, aliceName), newDevice(t, bobName)
		alice.startSession(t, bob, oneTime)
		c := alice.encrypt(t, bob, "hello bob")
		if c.Type != protocol.TypePreKey {
			t.Fatalf("first message type %d", c.Type)
		}
		t.Logf("first message (one-time prekey %v): %d bytes for a 9-byte plaintext", oneTime, len(c.Bytes))
		bob.mustDecrypt(t, alice, c, "hello bob")
		r := bob.encrypt(t, alice, "hi alice")
		if r.Type != protocol.TypeWhisper {
			t.Fatalf("reply type %d", r.Type)
		}
		alice.mustDecrypt(t, bob, r, "hi alice")
		for i := 0; i < 20; i++ {
			m := alice.encrypt(t, bob, fmt.Sprint("a", i))
			if m.Type != protocol.TypeWhisper {
				t.Fatalf("after the reply, alice still sends type %d", m.Type)
			}
			bob.mustDecrypt(t, alice, m, fmt.Sprint("a", i))
			if i%3 == 0 {
				bob.mustDecrypt(t, alice, alice.encrypt(t, bob, "x"), "x")
				alice.mustDecrypt(t, bob, bob.encrypt(t, alice, "y"), "y")
			}
		}
	}
}

// keptRecords is a session store that keeps the records themselves, as a
// caching store might: anything a record aliased would show in them.
type keptRecords map[protocol.Address]*protocol.SessionRecord

func (k keptRecords) LoadSession(_ context.Context, a protocol.Address) (*protocol.SessionRecord, error) {
	return k[a], nil
}

func (k keptRecords) StoreSession(_ context.Context, a protocol.Address, r *protocol.SessionRecord) error {
	k[a] = r
	return nil
}

// TestDecryptLeavesCiphertext: Decrypt reads the caller's ciphertext in place
// but never writes it (decrypted, failing or duplicate), and neither the
// plaintext nor the kept session record shares its bytes: scribbling over
// them afterwards changes nothing.
func TestDecryptLeavesCiphertext(t *testing.T) {
	alice, bob := newDevice(t, aliceName), newDevice(t, bobName)
	alice.startSession(t, bob, true)
	bob.mustDecrypt(t, alice, alice.encrypt(t, bob, "hi"), "hi")
	alice.mustDecrypt(t, bob, bob.encrypt(t, alice, "hello"), "hello")
	rec, err := bob.store.LoadSession(ctx, alice.addr)
	if err != nil {
		t.Fatal(err)
	}
	kept := keptRecords{alice.addr: rec}
	stores := bob.store.Stores()
	stores.Sessions = kept
	for i, text := range []string{"one", "two", "three"} {
		c := alice.encrypt(t, bob, text)
		orig := bytes.Clone(c.Bytes)
		if i == 1 { // a failing decryption first: the MAC tampered with
			bad := protocol.Ciphertext{Type: c.Type, Bytes: bytes.Clone(c.Bytes)}
			bad.Bytes[len(bad.Bytes)-1] ^= 1
			badOrig := bytes.Clone(bad.Bytes)
			if _, err := protocol.Decrypt(ctx, stores, bob.addr, alice.addr, bad); err == nil {
				t.Fatal("a tampered message decrypted")
			}
			if !bytes.Equal(bad.Bytes, badOrig) {
				t.Fatal("a failed Decrypt changed the caller's ciphertext")
			}
		}
		pt, err := protocol.Decrypt(ctx, stores, bob.addr, alice.addr, c)
		if err != nil || string(pt) != text {
			t.Fatalf("message %d: %q, %v", i, pt, err)
		}
		if !bytes.Equal(c.Bytes, orig) {
			t.Fatal("Decrypt changed the caller's ciphertext")
		}
		if _, err := protocol.Decrypt(ctx, stores, bob.addr, alice.addr, c); !errorsIs(err, protocol.ErrDuplicateMessage) {
			t.Fatalf("replay: %v", err)
		}
		before, err := kept[alice.addr].MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		for j := range c.Bytes {
			c.Bytes[j] = 0xA5
		}
		after, _ := kept[alice.addr].MarshalBinary()
		if string(pt) != text || !bytes.Equal(before, after) {
			t.Fatal("the plaintext or the kept record shares the ciphertext's bytes")
		}
	}
}
