package protocol_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/message"
	"github.com/skymsg/sky/protocol/ratchet"
)

// TestNonCanonicalBaseKeyRefused is acceptance test 5 for the session ID:
// the first message with its base key rewritten into an equivalent but
// non-canonical encoding (bit 255 set, or u + p) is refused and creates no
// session, before and after the genuine message built one; the session is
// identified by the canonical bytes only.
func TestNonCanonicalBaseKeyRefused(t *testing.T) {
	alice, bob := newDevice(t, aliceName), newDevice(t, bobName)
	alice.startSession(t, bob, true)
	first := alice.encrypt(t, bob, "hi")
	pm, err := message.ParsePreKeySignalMessage(first.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	u := pm.BaseKey.U()
	variants := map[string][32]byte{}
	high := u
	high[31] |= 0x80
	variants["bit 255 set"] = high
	if u[31] == 0 && u[30] == 0 { // u < 2^240: u + p fits 255 bits
		variants["u + p"] = addP(u)
	}
	try := func(want error) {
		for name, v := range variants {
			m := *pm
			m.BaseKey = curve.PublicKeyFromU(v)
			before := bob.store.Snapshot()
			_, err := bob.decrypt(alice, protocol.Ciphertext{Type: protocol.TypePreKey, Bytes: m.Encode()})
			if !errors.Is(err, want) {
				t.Fatalf("%s: %v, want %v", name, err, want)
			}
			if !bytes.Equal(before, bob.store.Snapshot()) {
				t.Fatalf("%s: the stores changed", name)
			}
		}
	}
	try(protocol.ErrInvalidMessage) // refused by the canonical check
	bob.mustDecrypt(t, alice, first, "hi")
	// Now the variants do not match the session's base key; they would need
	// the one-time prekeys again, which are used up.
	try(protocol.ErrInvalidKey)
	bob.mustDecrypt(t, alice, alice.encrypt(t, bob, "still fine"), "still fine")
}

// addP returns u + (2^255 - 19) for u below 2^240.
func addP(u [32]byte) [32]byte {
	p, _ := hex.DecodeString("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
	var out [32]byte
	carry := 0
	for i := 0; i < 32; i++ {
		s := int(u[i]) + int(p[i]) + carry
		out[i], carry = byte(s), s>>8
	}
	return out
}

func TestRecordAndStoreRedacted(t *testing.T) {
	alice, bob := newDevice(t, aliceName), newDevice(t, bobName)
	alice.startSession(t, bob, true)
	rec, _ := alice.store.LoadSession(ctx, bob.addr)
	ik, _ := alice.store.IdentityKeyPair(ctx)
	secret := fmt.Sprintf("%x", ik.Private.Bytes()[:8])
	type holder struct { // held by value
		R protocol.SessionRecord
		S ratchet.State
	}
	rec.ArchiveCurrent() // an archived state is kept encoded: its bytes must not show either
	alice.startSession(t, bob, true)
	rec, _ = alice.store.LoadSession(ctx, bob.addr)
	for _, v := range []any{rec, *rec, alice.store, alice.store.Stores(), rec.Current(), *rec.Current(), holder{*rec, *rec.Current()}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q", "%d"} {
			got := fmt.Sprintf(verb, v)
			if strings.Contains(got, secret) || !strings.Contains(got, "redacted") {
				t.Errorf("Sprintf(%s, %T) = %.120s", verb, v, got)
			}
		}
	}
}
