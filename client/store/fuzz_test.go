package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/skymsg/sky/client/store/envelope"
	"github.com/skymsg/sky/client/store/keyfile"
)

// decoders lists every record decoder with its encoder, so a decoded record
// can be re-encoded and compared.
var decoders = []func([]byte) ([]byte, error){
	func(b []byte) ([]byte, error) { a, err := decodeAccount(b); return encodeAccount(&a), err },
	func(b []byte) ([]byte, error) { l, err := decodeLocalIdentity(b); return encodeLocalIdentity(&l), err },
	func(b []byte) ([]byte, error) { p, err := decodePeerIdentity(b); return encodePeerIdentity(&p), err },
	func(b []byte) ([]byte, error) { c, err := decodeContact(b); return encodeContact(&c), err },
	func(b []byte) ([]byte, error) { r, err := decodeRequest(b); return encodeRequest(&r), err },
	func(b []byte) ([]byte, error) { c, err := decodeConversation(b); return encodeConversation(&c), err },
	func(b []byte) ([]byte, error) { m, err := decodeMessage(b); return encodeMessage(&m), err },
	func(b []byte) ([]byte, error) { k, err := decodeMessageKey(b); return encodeMessageKey(&k), err },
	func(b []byte) ([]byte, error) { o, err := decodeOutgoing(b); return encodeOutgoing(&o), err },
	func(b []byte) ([]byte, error) { p, err := decodePanicState(b); return encodePanicState(&p), err },
	func(b []byte) ([]byte, error) { id, at, err := decodeSeen(b); return encodeSeen(id, at), err },
	func(b []byte) ([]byte, error) { k, v, err := decodeKV(b); return encodeKV(k, v), err },
}

// seedRecords returns one valid encoding per decoder, in the same order.
func seedRecords() [][]byte {
	mk := messageKey{Key: envelope.NewKey(), ExpiresAt: 5}
	ps := panicState{Key: envelope.NewKey(), KEK: envelope.NewKey(), DeleteAccount: true}
	return [][]byte{
		encodeAccount(&Account{ID: "me", Server: "wss://x", DeviceID: 3, Credential: Secret("pw")}),
		encodeLocalIdentity(&LocalIdentity{KeyPair: Secret("kp"), RegistrationID: 9}),
		encodePeerIdentity(&PeerIdentity{Key: []byte("pub"), Verified: true, FirstSeen: t0}),
		encodeContact(&Contact{ID: "bob", Name: "Bob", AddedAt: t0}),
		encodeRequest(&Request{ID: "carol", FirstAt: t0}),
		encodeConversation(&Conversation{ID: "bob", Timer: time.Minute, UpdatedAt: t0}),
		encodeMessage(&Message{Conversation: "bob", Sender: "bob", MessageID: "m", State: Read, Body: Secret("hi"), SentAt: t0, Timer: time.Second}),
		encodeMessageKey(&mk),
		encodeOutgoing(&Outgoing{To: "bob", MessageRef: 4, Payload: Secret("p"), CreatedAt: t0, Attempts: 1}),
		encodePanicState(&ps),
		encodeSeen("bob/m", 123),
		encodeKV([]byte("k"), []byte("v")),
	}
}

func TestRecordsRoundTrip(t *testing.T) {
	for i, b := range seedRecords() {
		again, err := decoders[i](b)
		if err != nil || !bytes.Equal(again, b) {
			t.Errorf("decoder %d: round trip failed: %v", i, err)
		}
		// Every proper prefix and every extension is rejected.
		for n := range len(b) {
			if _, err := decoders[i](b[:n]); err == nil {
				t.Errorf("decoder %d accepted a %d-byte prefix of %d bytes", i, n, len(b))
			}
		}
		if _, err := decoders[i](append(bytes.Clone(b), 0)); err == nil {
			t.Errorf("decoder %d accepted a trailing byte", i)
		}
	}
}

// TestMessageFailureRoundTrip: a failed message's reason, a trailing field
// (older records without it still decode), round-trips, and an empty one
// written out is refused.
func TestMessageFailureRoundTrip(t *testing.T) {
	m := Message{Conversation: "bob", Outgoing: true, State: Failed, Body: Secret("hi"), SentAt: t0, Failure: "no such account"}
	b := encodeMessage(&m)
	got, err := decodeMessage(b)
	if err != nil || got.Failure != m.Failure || got.State != Failed {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	m.Failure = ""
	old := encodeMessage(&m)
	if got, err := decodeMessage(old); err != nil || got.Failure != "" {
		t.Fatalf("a record without the field: %+v, %v", got, err)
	}
	if _, err := decodeMessage(append(bytes.Clone(old), 0)); err == nil {
		t.Fatal("an empty reason written out was accepted")
	}
}

// FuzzRecordDecoders feeds arbitrary bytes to every record decoder: none may
// panic, and what one accepts must re-encode to the same bytes (the encoding
// is canonical, so a decoded record cannot hide extra data).
func FuzzRecordDecoders(f *testing.F) {
	for i, b := range seedRecords() {
		f.Add(uint8(i), b)
	}
	f.Add(uint8(0), []byte{})
	f.Add(uint8(6), []byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		dec := decoders[int(which)%len(decoders)]
		again, err := dec(b)
		if err != nil {
			if !errors.Is(err, errRecord) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("accepted a non-canonical encoding:\n in  %x\n out %x", b, again)
		}
	})
}

// FuzzOpenKeyFile replaces a store's key file with arbitrary bytes: Open must
// answer with a typed error (or, for a file that still opens, the store) and
// never panic, and restoring the file must give back the store unharmed.
func FuzzOpenKeyFile(f *testing.F) {
	dir, s := newTestStore(f, Options{})
	update(f, s, func(tx *Tx) error { return tx.PutContact(Contact{ID: "bob"}) })
	s.Close()
	path := filepath.Join(dir, keyName)
	orig, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(orig)
	f.Add(orig[:keyfile.HalfSize])
	f.Add(append(bytes.Clone(orig[keyfile.HalfSize:]), orig[:keyfile.HalfSize]...))
	f.Add([]byte("SKYSTORE"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if keyfile.IsWipeMarked(b) {
			return // a wipe marker erases the store, as it must
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, pass)
		switch {
		case err == nil:
			s.Close()
		case errors.Is(err, ErrCorrupt), errors.Is(err, ErrWrongPassphrase):
		default:
			t.Fatalf("untyped error %v", err)
		}
		os.WriteFile(path, orig, 0o600)
		s, err = Open(dir, pass)
		if err != nil {
			t.Fatalf("store lost after a damaged key file was replaced: %v", err)
		}
		s.View(func(tx *Tx) error {
			if c, err := tx.Contact("bob"); err != nil || !reflect.DeepEqual(c, Contact{ID: "bob"}) {
				t.Fatalf("contact after restore: %v", err)
			}
			return nil
		})
		s.Close()
		orig, _ = os.ReadFile(path)
	})
}
