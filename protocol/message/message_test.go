package message

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/kem"
)

var (
	sender   = curve.GenerateKeyPair().Public
	receiver = curve.GenerateKeyPair().Public
	macKey   = bytes.Repeat([]byte{0x42}, 32)
)

func sample(addresses []byte) *SignalMessage {
	return NewSignalMessage(SignalMessageFields{
		Version: 4, RatchetKey: curve.GenerateKeyPair().Public, Counter: 300, PreviousCounter: 0,
		Ciphertext: bytes.Repeat([]byte{1}, 32), PQRatchet: []byte{1, 1, 0xAC, 0x02, 0}, Addresses: addresses,
	}, macKey, sender, receiver)
}

// fields lists the field numbers of a protobuf body in order.
func fields(t *testing.T, b []byte) []protowire.Number {
	var out []protowire.Number
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if n < 0 || m < 0 {
			t.Fatal("bad protobuf")
		}
		out = append(out, num)
		b = b[n+m:]
	}
	return out
}

func TestSignalMessageLayout(t *testing.T) {
	addrs := bytes.Repeat([]byte{9}, AddressesSize)
	m := sample(addrs)
	b := m.Bytes()
	if b[0] != 0x44 {
		t.Fatalf("version byte %x", b[0])
	}
	got := fields(t, b[1:len(b)-MACSize])
	want := []protowire.Number{1, 2, 3, 4, 5, 6}
	if len(got) != len(want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("fields %v, want %v", got, want)
		}
	}
	// previous_counter is written even when 0; no pq field when empty; no addresses when nil.
	n := NewSignalMessage(SignalMessageFields{Version: 4, RatchetKey: sender, Ciphertext: make([]byte, 16)}, macKey, sender, receiver)
	if f := fields(t, n.Bytes()[1:len(n.Bytes())-MACSize]); len(f) != 4 || f[1] != 2 || f[2] != 3 {
		t.Fatalf("minimal message fields %v", f)
	}
	p, err := ParseSignalMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.Counter != 300 || p.RatchetKey != m.RatchetKey || !bytes.Equal(p.Addresses, addrs) || !bytes.Equal(p.PQRatchet, m.PQRatchet) || !bytes.Equal(p.Ciphertext, m.Ciphertext) {
		t.Fatal("parse does not give the fields back")
	}
	if !p.VerifyMAC(macKey, sender, receiver) {
		t.Fatal("MAC does not verify")
	}
	if p.VerifyMAC(macKey, receiver, sender) || p.VerifyMAC(bytes.Repeat([]byte{1}, 32), sender, receiver) {
		t.Fatal("MAC verifies with swapped identities or another key")
	}
}

func TestVersionNibbles(t *testing.T) {
	b := bytes.Clone(sample(nil).Bytes())
	for _, v := range []byte{0x43, 0x40, 0x4F} { // the low nibble is ignored
		b[0] = v
		if m, err := ParseSignalMessage(b); err != nil || m.Version != 4 {
			t.Errorf("version byte %x: %v", v, err)
		}
	}
	b[0] = 0x34
	if m, err := ParseSignalMessage(b); err != nil || m.Version != 3 {
		t.Errorf("version 3 should parse (the session refuses it): %v", err)
	}
	for _, v := range []byte{0x24, 0x54, 0x04, 0xF4} {
		b[0] = v
		if _, err := ParseSignalMessage(b); !errors.Is(err, errs.InvalidMessage) {
			t.Errorf("version byte %x accepted", v)
		}
	}
}

func TestSignalMessageRejects(t *testing.T) {
	good := sample(nil).Bytes()
	body := good[1 : len(good)-MACSize]
	build := func(fs ...[]byte) []byte {
		b := []byte{0x44}
		for _, f := range fs {
			b = append(b, f...)
		}
		return append(b, make([]byte, MACSize)...)
	}
	key := appendBytesField(nil, 1, sender.Bytes())
	ctr := appendVarintField(nil, 2, 1)
	ct := appendBytesField(nil, 4, make([]byte, 16))
	cases := map[string][]byte{
		"empty":                 nil,
		"only version and MAC":  build(),
		"no ratchet key":        build(ctr, ct),
		"no counter":            build(key, ct),
		"no ciphertext":         build(key, ctr),
		"32-byte ratchet key":   build(appendBytesField(nil, 1, sender.Bytes()[1:]), ctr, ct),
		"Kyber-typed key":       build(appendBytesField(nil, 1, append([]byte{kem.TypeKyber1024}, sender.Bytes()[1:]...)), ctr, ct),
		"counter as bytes":      build(key, appendBytesField(nil, 2, []byte{1}), ct),
		"counter over 32 bits":  build(key, appendVarintField(nil, 2, 1<<32), ct),
		"ciphertext as varint":  build(key, ctr, appendVarintField(nil, 4, 1)),
		"truncated field":       append([]byte{0x44}, append(body[:len(body)-3], make([]byte, MACSize)...)...),
		"bad tag":               build([]byte{0x80}),
		"field number 0":        build([]byte{0x00, 0x00}, key, ctr, ct),
		"8 bytes (no protobuf)": make([]byte, 8),
	}
	for name, b := range cases {
		if _, err := ParseSignalMessage(b); !errors.Is(err, errs.InvalidMessage) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Unknown fields are skipped, as protobuf requires.
	withUnknown := build(key, ctr, ct, appendVarintField(nil, 9, 5))
	if _, err := ParseSignalMessage(withUnknown); err != nil {
		t.Errorf("unknown field: %v", err)
	}
}

func samplePreKey(hasOTPK bool) *PreKeySignalMessage {
	_, ct, _ := kem.GenerateKeyPair().Public.Encapsulate()
	return &PreKeySignalMessage{
		Version: 4, RegistrationID: 12345, HasPreKeyID: hasOTPK, PreKeyID: 7, SignedPreKeyID: 8, KyberPreKeyID: 9,
		KyberCiphertext: ct, BaseKey: curve.GenerateKeyPair().Public, IdentityKey: sender, Message: sample(bytes.Repeat([]byte{3}, 36)),
	}
}

func TestPreKeyMessageLayout(t *testing.T) {
	for _, otpk := range []bool{true, false} {
		m := samplePreKey(otpk)
		b := m.Encode()
		want := []protowire.Number{1, 2, 3, 4, 5, 6, 7, 8}
		if !otpk {
			want = want[1:]
		}
		got := fields(t, b[1:])
		if len(got) != len(want) {
			t.Fatalf("fields %v, want %v", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("fields %v, want %v", got, want)
			}
		}
		p, err := ParsePreKeySignalMessage(b)
		if err != nil {
			t.Fatal(err)
		}
		if p.HasPreKeyID != otpk || p.RegistrationID != 12345 || p.SignedPreKeyID != 8 || p.KyberPreKeyID != 9 ||
			p.BaseKey != m.BaseKey || p.IdentityKey != sender || !bytes.Equal(p.Message.Bytes(), m.Message.Bytes()) ||
			!bytes.Equal(p.KyberCiphertext, m.KyberCiphertext) {
			t.Fatal("parse does not give the fields back")
		}
		if !bytes.Equal(p.Encode(), b) {
			t.Fatal("re-encoding differs")
		}
	}
}

// TestPreKeyMessageRejects: missing required fields, Kyber fields alone,
// a version-4 message without Kyber, a KEM ciphertext of the wrong type or
// size, and keys in each other's fields.
func TestPreKeyMessageRejects(t *testing.T) {
	m := samplePreKey(true)
	enc := func(f func(*PreKeySignalMessage) []byte) []byte { c := *m; return f(&c) }
	without := func(skip protowire.Number) []byte {
		b := []byte{0x44}
		rest := m.Encode()[1:]
		for len(rest) > 0 {
			num, typ, n := protowire.ConsumeTag(rest)
			k := protowire.ConsumeFieldValue(num, typ, rest[n:])
			if num != skip {
				b = append(b, rest[:n+k]...)
			}
			rest = rest[n+k:]
		}
		return b
	}
	cases := map[string][]byte{
		"empty":                       nil,
		"no base key":                 without(2),
		"no identity key":             without(3),
		"no message":                  without(4),
		"no signed prekey ID":         without(6),
		"Kyber ID without ciphertext": without(8),
		"Kyber ciphertext without ID": without(7),
		"version 4 without Kyber":     without(7)[:len(without(7))-len(appendBytesField(nil, 8, m.KyberCiphertext))],
		"ML-KEM (0x0A) ciphertext": enc(func(c *PreKeySignalMessage) []byte {
			c.KyberCiphertext = append([]byte{0x0A}, m.KyberCiphertext[1:]...)
			return c.Encode()
		}),
		"short Kyber ciphertext": enc(func(c *PreKeySignalMessage) []byte { c.KyberCiphertext = m.KyberCiphertext[:1568]; return c.Encode() }),
		"inner message truncated": enc(func(c *PreKeySignalMessage) []byte {
			c.Message = &SignalMessage{serialized: m.Message.Bytes()[:5]}
			return c.Encode()
		}),
		"version byte 0x54":     append([]byte{0x54}, m.Encode()[1:]...),
		"version byte 0x24":     append([]byte{0x24}, m.Encode()[1:]...),
		"trailing garbage byte": append(m.Encode(), 0x00),
	}
	for name, b := range cases {
		if _, err := ParsePreKeySignalMessage(b); !errors.Is(err, errs.InvalidMessage) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Version 3 (X3DH) without Kyber parses; the session layer refuses it.
	v3 := append([]byte{0x34}, without(7)[1:len(without(7))-len(appendBytesField(nil, 8, m.KyberCiphertext))]...)
	if p, err := ParsePreKeySignalMessage(v3); err != nil || p.HasKyber() || p.Version != 3 {
		t.Errorf("version 3: %v", err)
	}
}

func FuzzParseSignalMessage(f *testing.F) {
	f.Add(sample(nil).Bytes())
	f.Add(sample(bytes.Repeat([]byte{1}, 36)).Bytes())
	f.Add([]byte{0x44, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseSignalMessage(b)
		if err != nil {
			return
		}
		if !bytes.Equal(m.Bytes(), b) {
			t.Fatal("parsed message does not keep its bytes")
		}
		m.VerifyMAC(macKey, sender, receiver)
	})
}

func FuzzParsePreKeySignalMessage(f *testing.F) {
	f.Add(samplePreKey(true).Encode())
	f.Add(samplePreKey(false).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParsePreKeySignalMessage(b)
		if err != nil {
			return
		}
		again := m.Encode()
		if _, err := ParsePreKeySignalMessage(again); err != nil {
			t.Fatalf("re-encoding does not parse: %v", err)
		}
	})
}

// TestParseInPlace: the in-place parse gives the same message as the copying
// one, reads b without changing it, and an append to its Bytes() cannot
// write past the message into the caller's buffer.
func TestParseInPlace(t *testing.T) {
	for _, addr := range [][]byte{nil, bytes.Repeat([]byte{1}, 36)} {
		enc := sample(addr).Bytes()
		buf := append(bytes.Clone(enc), 0xEE, 0xEE) // the caller's larger buffer
		b := buf[:len(enc)]
		in, err := ParseSignalMessageInPlace(b)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := ParseSignalMessage(b)
		if err != nil {
			t.Fatal(err)
		}
		if in.Version != cp.Version || in.RatchetKey != cp.RatchetKey || in.Counter != cp.Counter ||
			in.PreviousCounter != cp.PreviousCounter || !bytes.Equal(in.Ciphertext, cp.Ciphertext) ||
			!bytes.Equal(in.PQRatchet, cp.PQRatchet) || !bytes.Equal(in.Addresses, cp.Addresses) ||
			!bytes.Equal(in.Bytes(), cp.Bytes()) {
			t.Fatal("the in-place parse differs from the copying one")
		}
		if !in.VerifyMAC(macKey, sender, receiver) {
			t.Fatal("the in-place message's MAC does not verify")
		}
		_ = append(in.Bytes(), 0)
		_ = append(in.Ciphertext, 0)
		if !bytes.Equal(buf[len(enc):], []byte{0xEE, 0xEE}) || !bytes.Equal(b, enc) {
			t.Fatal("the in-place parse or an append to its slices changed the caller's buffer")
		}
	}
	if _, err := ParseSignalMessageInPlace([]byte{0x44, 1}); err == nil {
		t.Fatal("a too short message parsed in place")
	}
}
