package protocol_test

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/protocol"
)

// TestFailedDecryptionChangesNothing is acceptance test 4: for a PreKey
// message and a normal message, every single-bit change, every truncation
// and every one-byte extension is refused, and the receiver's session,
// prekey and identity stores stay byte-identical (the one-time prekey is not
// consumed). The only changes that decrypt are in the two places libsignal's
// format leaves unauthenticated, the PreKey message's registration ID field
// and the low nibble of its version byte; they must yield the original
// plaintext.
func TestFailedDecryptionChangesNothing(t *testing.T) {
	alice, bob := newDevice(t, aliceName), newDevice(t, bobName)
	alice.startSession(t, bob, true)
	first := alice.encrypt(t, bob, "the first message")
	pristine := bob.store.Clone()
	open := unauthenticatedPreKeyBytes(t, first.Bytes)

	try := func(what string, c protocol.Ciphertext, pos int) {
		t.Helper()
		bob.store = pristine.Clone()
		before := bob.store.Snapshot()
		pt, err := bob.decrypt(alice, c)
		if err == nil {
			if pos < 0 || !open[pos] || pt != "the first message" {
				t.Fatalf("%s: accepted (%q)", what, pt)
			}
			return
		}
		if !bytes.Equal(before, bob.store.Snapshot()) {
			t.Fatalf("%s: refused (%v) but the stores changed", what, err)
		}
	}
	for i := range first.Bytes {
		b := bytes.Clone(first.Bytes)
		b[i] ^= 1 << (i * 3 % 8) // a different bit from byte to byte
		try("PreKey message with a flipped bit", protocol.Ciphertext{Type: protocol.TypePreKey, Bytes: b}, i)
	}
	checkCutsAndExtensions(t, first, try)

	// The genuine message still works, and a normal message gets the same treatment.
	bob.store = pristine
	bob.mustDecrypt(t, alice, first, "the first message")
	if bob.store.PreKeyCount() != 0 {
		t.Fatal("the genuine message did not consume the one-time prekey")
	}
	alice.mustDecrypt(t, bob, bob.encrypt(t, alice, "ack"), "ack")
	normal := alice.encrypt(t, bob, "a normal message")
	if normal.Type != protocol.TypeWhisper {
		t.Fatalf("type %d", normal.Type)
	}
	pristine = bob.store.Clone()
	tryNormal := func(what string, c protocol.Ciphertext, _ int) {
		t.Helper()
		bob.store = pristine.Clone()
		before := bob.store.Snapshot()
		if pt, err := bob.decrypt(alice, c); err == nil {
			t.Fatalf("%s: accepted (%q)", what, pt)
		}
		if !bytes.Equal(before, bob.store.Snapshot()) {
			t.Fatalf("%s: the stores changed", what)
		}
	}
	for i := range normal.Bytes {
		for bit := 0; bit < 8; bit++ {
			b := bytes.Clone(normal.Bytes)
			b[i] ^= 1 << bit
			tryNormal("normal message with a flipped bit", protocol.Ciphertext{Type: protocol.TypeWhisper, Bytes: b}, i)
		}
	}
	checkCutsAndExtensions(t, normal, tryNormal)
	tryNormal("normal message sent as a PreKey message", protocol.Ciphertext{Type: protocol.TypePreKey, Bytes: normal.Bytes}, -1)
	bob.store = pristine
	bob.mustDecrypt(t, alice, normal, "a normal message")
}

func checkCutsAndExtensions(t *testing.T, c protocol.Ciphertext, try func(string, protocol.Ciphertext, int)) {
	for n := 0; n < len(c.Bytes); n++ {
		try("truncated message", protocol.Ciphertext{Type: c.Type, Bytes: bytes.Clone(c.Bytes[:n])}, -1)
	}
	for x := 0; x < 256; x++ {
		try("extended message", protocol.Ciphertext{Type: c.Type, Bytes: append(bytes.Clone(c.Bytes), byte(x))}, -1)
	}
}

// unauthenticatedPreKeyBytes marks the byte positions of a PreKey message
// that no MAC or key agreement covers: the version byte (whose low nibble
// libsignal ignores) and the registration ID field.
func unauthenticatedPreKeyBytes(t *testing.T, b []byte) map[int]bool {
	open := map[int]bool{0: true}
	at := 1
	for at < len(b) {
		num, typ, n := protowire.ConsumeTag(b[at:])
		m := protowire.ConsumeFieldValue(num, typ, b[at+n:])
		if n < 0 || m < 0 {
			t.Fatal("own PreKey message does not parse")
		}
		if num == 5 {
			for i := at; i < at+n+m; i++ {
				open[i] = true
			}
		}
		at += n + m
	}
	if len(open) < 3 {
		t.Fatal("registration ID field not found")
	}
	return open
}

// TestDuplicatesChangeNothing: a duplicate is ErrDuplicateMessage and
// changes no store, in order, out of order and for the PreKey message.
func TestDuplicatesChangeNothing(t *testing.T) {
	alice, bob := newDevice(t, aliceName), newDevice(t, bobName)
	alice.startSession(t, bob, false)
	first := alice.encrypt(t, bob, "0")
	bob.mustDecrypt(t, alice, first, "0")
	var msgs []protocol.Ciphertext
	for i := 0; i < 5; i++ {
		msgs = append(msgs, alice.encrypt(t, bob, "m"))
	}
	bob.mustDecrypt(t, alice, msgs[3], "m")
	bob.mustDecrypt(t, alice, msgs[0], "m")
	for _, c := range []protocol.Ciphertext{first, msgs[3], msgs[0]} {
		before := bob.store.Snapshot()
		if _, err := bob.decrypt(alice, c); !errors.Is(err, protocol.ErrDuplicateMessage) {
			t.Fatalf("duplicate: %v", err)
		}
		if !bytes.Equal(before, bob.store.Snapshot()) {
			t.Fatal("a duplicate changed the stores")
		}
	}
	bob.mustDecrypt(t, alice, msgs[1], "m") // a kept skipped key still works
}
