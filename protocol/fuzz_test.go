package protocol_test

import (
	"bytes"
	"testing"
	"testing/cryptotest"

	"github.com/skymsg/sky/protocol"
)

// FuzzDecrypt feeds arbitrary bytes, as either message type, to a device
// with an established session: never a panic, and a refused message changes
// no store.
func FuzzDecrypt(f *testing.F) {
	f.Add(uint8(3), []byte{0x44})
	f.Add(uint8(2), []byte{0x44, 0x0a, 0x21, 0x05})
	f.Fuzz(func(t *testing.T, typ uint8, b []byte) {
		cryptotest.SetGlobalRandom(t, 7)
		alice, bob := newDevice(t, aliceName), newDevice(t, bobName)
		alice.startSession(t, bob, true)
		first := alice.encrypt(t, bob, "hi")
		bob.mustDecrypt(t, alice, first, "hi")
		if len(b) == 0 && typ%2 == 0 {
			b = first.Bytes // also mutate real messages via the corpus
		}
		before := bob.store.Snapshot()
		_, err := bob.decrypt(alice, protocol.Ciphertext{Type: protocol.MessageType(typ), Bytes: b})
		if err != nil && !bytes.Equal(before, bob.store.Snapshot()) {
			t.Fatalf("refused input changed the stores: %v", err)
		}
	})
}

// FuzzParseSessionRecord: any record that parses encodes and parses again.
func FuzzParseSessionRecord(f *testing.F) {
	alice, bob := newDevice(f, aliceName), newDevice(f, bobName)
	alice.startSession(f, bob, true)
	bob.mustDecrypt(f, alice, alice.encrypt(f, bob, "x"), "x")
	alice.startSession(f, bob, false)
	for _, d := range []*device{alice, bob} {
		peer := bob.addr
		if d == bob {
			peer = alice.addr
		}
		rec, _ := d.store.LoadSession(ctx, peer)
		enc, _ := rec.MarshalBinary()
		f.Add(enc)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := protocol.ParseSessionRecord(b)
		if err != nil {
			return
		}
		enc, err := rec.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := protocol.ParseSessionRecord(enc); err != nil {
			t.Fatalf("re-encoded record does not parse: %v", err)
		}
	})
}
