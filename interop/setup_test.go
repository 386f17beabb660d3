package interop

import (
	"bytes"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
)

// firstMessageReference is the size of libsignal's first PreKey message with
// a one-time prekey for a 9-byte plaintext, when the SPQR field carries a
// 37-byte header chunk and the registration id takes two varint bytes
// (shared/docs/libsignal-interop.md §5.3).
const (
	firstMessageReference = 1798
	referencePQRatchetLen = 37
	referencePlaintext    = "9 bytes!!"
)

// TestSessionSetup proves PQXDH session setup, with and without a one-time
// prekey, and checks the first PreKey message field by field: version 0x44,
// the prekey ids of the bundle, the sender's identity and registration id,
// the 36-byte addresses field, SPQR V1, fields in ascending order, and a size
// consistent with libsignal's 1798-byte reference.
func TestSessionSetup(t *testing.T) {
	for _, otpk := range []bool{true, false} {
		name := "with_one_time_prekey"
		if !otpk {
			name = "without_one_time_prekey"
		}
		t.Run(name, func(t *testing.T) {
			forEachPairing(t, func(t *testing.T, a, b *side) {
				b.init(otpk)
				checkBundle(t, b, otpk)
				if err := a.ProcessBundle(b.addr(), b.id.Bundle); err != nil {
					t.Fatalf("%s: process_bundle: %v", a.Label, err)
				}
				first := message{plaintext: []byte(referencePlaintext)}
				var err error
				if first.ct, err = a.Encrypt(b.addr(), first.plaintext); err != nil {
					t.Fatalf("%s: encrypt: %v", a.Label, err)
				}
				checkFirstMessage(t, a, b, first.ct, otpk)
				b.receive(a, []message{first})

				reply := b.send(a, 1)
				if reply[0].ct.Type != 2 {
					t.Fatalf("%s: reply has type %d, want 2", b.Label, reply[0].ct.Type)
				}
				sm, err := ParseSignalMessage(reply[0].ct.Ciphertext)
				if err != nil {
					t.Fatalf("%s: reply: %v", b.Label, err)
				}
				if sm.Addresses != nil {
					t.Errorf("%s: a Whisper message carries an addresses field; libsignal writes it only inside PreKey messages", b.Label)
				}
				checkSignalLayout(t, b, sm, len(reply[0].ct.Ciphertext))
				a.receive(b, reply)

				// Acknowledged: the initiator now sends Whisper messages.
				next := a.send(b, 3)
				for i, m := range next {
					if m.ct.Type != 2 {
						t.Fatalf("%s: message %d after the session was acknowledged has type %d, want 2", a.Label, i, m.ct.Type)
					}
				}
				b.receive(a, next)
			})
		})
	}
}

func checkBundle(t *testing.T, s *side, otpk bool) {
	t.Helper()
	bd := s.id.Bundle
	if (bd.PreKeyID != nil) != otpk || (bd.PreKey != nil) != otpk {
		t.Errorf("%s: bundle with one_time_pre_key=%v has pre_key_id %v, pre_key %d bytes", s.Label, otpk, bd.PreKeyID, len(bd.PreKey))
	}
	for _, k := range []struct {
		name string
		key  []byte
		size int
		typ  byte
	}{
		{"identity_key", bd.IdentityKey, 33, 0x05},
		{"signed_pre_key", bd.SignedPreKey, 33, 0x05},
		{"kyber_pre_key", bd.KyberPreKey, 1569, 0x08},
	} {
		if len(k.key) != k.size || k.key[0] != k.typ {
			t.Errorf("%s: bundle %s is %d bytes starting %x, want %d bytes starting %02x", s.Label, k.name, len(k.key), k.key[:min(1, len(k.key))], k.size, k.typ)
		}
	}
	if otpk && (len(bd.PreKey) != 33 || bd.PreKey[0] != 0x05) {
		t.Errorf("%s: bundle pre_key is %d bytes, want 33 starting 05", s.Label, len(bd.PreKey))
	}
	if !bytes.Equal(bd.IdentityKey, s.id.IdentityKey) || bd.RegistrationID != s.id.RegistrationID || int(bd.DeviceID) != s.id.DeviceID {
		t.Errorf("%s: bundle identity/registration/device differ from init's", s.Label)
	}
	if len(bd.SignedPreKeySignature) != 64 || len(bd.KyberPreKeySignature) != 64 {
		t.Errorf("%s: bundle signatures are %d and %d bytes, want 64", s.Label, len(bd.SignedPreKeySignature), len(bd.KyberPreKeySignature))
	}
}

// serviceIDFixed is the 17-byte fixed-width ACI: 0x00 ‖ the UUID's 16 bytes.
func serviceIDFixed(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := hex.DecodeString(strings.ReplaceAll(name, "-", ""))
	if err != nil || len(raw) != 16 {
		t.Fatalf("name %q is not a UUID", name)
	}
	return append([]byte{0x00}, raw...)
}

// wantAddresses is the addresses field a PreKey message from → to carries.
func wantAddresses(t *testing.T, from, to *side) []byte {
	out := append(serviceIDFixed(t, from.id.Name), byte(from.id.DeviceID))
	out = append(out, serviceIDFixed(t, to.id.Name)...)
	return append(out, byte(to.id.DeviceID))
}

func checkFirstMessage(t *testing.T, a, b *side, ct Ciphertext, otpk bool) {
	t.Helper()
	if ct.Type != 3 {
		t.Fatalf("%s: first message has type %d, want 3 (PreKey)", a.Label, ct.Type)
	}
	m, err := ParsePreKeySignalMessage(ct.Ciphertext)
	if err != nil {
		t.Fatalf("%s: first message: %v", a.Label, err)
	}
	bd := b.id.Bundle
	if m.Version != 0x44 || m.Signal.Version != 0x44 {
		t.Errorf("%s: version bytes %#02x (outer) and %#02x (inner), want 0x44", a.Label, m.Version, m.Signal.Version)
	}
	switch {
	case otpk && (m.PreKeyID == nil || *m.PreKeyID != *bd.PreKeyID):
		t.Errorf("%s: pre_key_id %v, want the bundle's %d", a.Label, m.PreKeyID, *bd.PreKeyID)
	case !otpk && m.PreKeyID != nil:
		t.Errorf("%s: pre_key_id %d present although the bundle had no one-time prekey", a.Label, *m.PreKeyID)
	}
	if m.SignedPreKeyID != bd.SignedPreKeyID || m.KyberPreKeyID != bd.KyberPreKeyID {
		t.Errorf("%s: signed/kyber prekey ids %d/%d, want the bundle's %d/%d", a.Label, m.SignedPreKeyID, m.KyberPreKeyID, bd.SignedPreKeyID, bd.KyberPreKeyID)
	}
	if !bytes.Equal(m.IdentityKey, a.id.IdentityKey) || m.RegistrationID != a.id.RegistrationID {
		t.Errorf("%s: identity key/registration id in the message differ from the sender's", a.Label)
	}
	if m.KyberCiphertext[0] != 0x08 || m.BaseKey[0] != 0x05 {
		t.Errorf("%s: kyber ciphertext type %#02x, base key type %#02x; want 0x08 and 0x05", a.Label, m.KyberCiphertext[0], m.BaseKey[0])
	}
	if !slices.IsSorted(m.FieldOrder) || !slices.Equal(m.FieldOrder, slices.Compact(slices.Clone(m.FieldOrder))) {
		t.Errorf("%s: PreKeySignalMessage fields in order %v, want strictly ascending as libsignal writes them", a.Label, m.FieldOrder)
	}
	if want := wantAddresses(t, a, b); !bytes.Equal(m.Signal.Addresses, want) {
		t.Errorf("%s: addresses field\n got %x\nwant %x (sender ACI ‖ device ‖ recipient ACI ‖ device)", a.Label, m.Signal.Addresses, want)
	}
	if m.Signal.Counter != 0 || m.Signal.PreviousCounter != 0 {
		t.Errorf("%s: first message has counter %d, previous counter %d; want 0, 0", a.Label, m.Signal.Counter, m.Signal.PreviousCounter)
	}
	checkSignalLayout(t, a, m.Signal, len(m.Message))

	if got, want := len(ct.Ciphertext), PreKeyMessageSize(m); got != want {
		t.Errorf("%s: first message is %d bytes, but its fields encoded as libsignal encodes them take %d", a.Label, got, want)
	}
	// The reference, with this message's pq_ratchet in place of the 37-byte
	// one: the inner message and the varint of its length change with it.
	refInner := len(m.Message) - len(m.Signal.PQRatchet) + referencePQRatchetLen
	want := firstMessageReference - refInner - varintLen(uint64(refInner)) + len(m.Message) + varintLen(uint64(len(m.Message)))
	if !otpk {
		want -= 2 // the pre_key_id field
	}
	if len(ct.Ciphertext) != want {
		t.Errorf("%s: first message is %d bytes, want %d (libsignal's 1798-byte reference, adjusted for a %d-byte pq_ratchet and one_time_pre_key=%v)", a.Label, len(ct.Ciphertext), want, len(m.Signal.PQRatchet), otpk)
	}
	t.Logf("%s → %s: first PreKey message for a 9-byte plaintext: %d bytes (pq_ratchet %d bytes, one-time prekey %v)", a.impl, b.impl, len(ct.Ciphertext), len(m.Signal.PQRatchet), otpk)
}

// checkSignalLayout checks the inner layout every SignalMessage shares:
// ascending fields with counter and previous_counter always present, SPQR V1
// at epoch ≥ 1, a 16-byte-multiple AES-CBC ciphertext, and no stray bytes.
func checkSignalLayout(t *testing.T, s *side, m SignalMessage, size int) {
	t.Helper()
	if !slices.Equal(m.FieldOrder[:min(4, len(m.FieldOrder))], []int{1, 2, 3, 4}) || !slices.IsSorted(m.FieldOrder) {
		t.Errorf("%s: SignalMessage fields in order %v, want 1,2,3,4 then optional 5,6 ascending", s.Label, m.FieldOrder)
	}
	if len(m.Ciphertext) == 0 || len(m.Ciphertext)%16 != 0 {
		t.Errorf("%s: ciphertext of %d bytes is not AES-CBC output", s.Label, len(m.Ciphertext))
	}
	pq, err := ParsePQRatchet(m.PQRatchet)
	if err != nil {
		t.Errorf("%s: pq_ratchet %x: %v", s.Label, m.PQRatchet, err)
	} else if pq.Version != 1 {
		t.Errorf("%s: pq_ratchet %x is SPQR version %d, want 1 (libsignal 0.103 refuses anything else)", s.Label, m.PQRatchet, pq.Version)
	}
	if want := SignalMessageSize(m); size != want {
		t.Errorf("%s: SignalMessage is %d bytes, its fields encoded as libsignal encodes them take %d", s.Label, size, want)
	}
}
