// Package message encodes and decodes the two Double Ratchet wire formats
// byte-for-byte as libsignal 0.103 does: SignalMessage (envelope type 2,
// "whisper") and PreKeySignalMessage (envelope type 3).
//
// Both start with a version byte, (session version << 4) | 4, which is 0x44
// for the current version 4. Their bodies are proto2 protobufs written in
// ascending field order with explicit presence; a SignalMessage ends in an
// 8-byte truncated HMAC-SHA256 over both identity keys, the version byte and
// the protobuf. Decoders check every length and type before use.
package message

import (
	"crypto/sha256"
	"crypto/subtle"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/kdf"
)

const (
	// CurrentVersion is the session version of PQXDH sessions.
	CurrentVersion = 4
	// PreKyberVersion is the version of X3DH sessions, which are refused.
	PreKyberVersion = 3
	// MACSize is the size of the truncated MAC ending a SignalMessage.
	MACSize = 8
	// AddressesSize is the size of the addresses field: sender service ID
	// (17) and device (1), then recipient service ID (17) and device (1).
	AddressesSize = 36
)

// VersionByte returns the first byte of a message of the given session version.
func VersionByte(version uint8) byte { return version<<4 | CurrentVersion }

// checkVersion reads the session version from a version byte as libsignal
// does: only the high nibble counts, and it must be 3 or 4.
func checkVersion(b byte) (uint8, error) {
	v := b >> 4
	if v < PreKyberVersion {
		return 0, errs.Newf(errs.InvalidMessage, "message version %d is too old", v)
	}
	if v > CurrentVersion {
		return 0, errs.Newf(errs.InvalidMessage, "message version %d is not known", v)
	}
	return v, nil
}

// SignalMessage is a Double Ratchet message (envelope type 2).
type SignalMessage struct {
	Version         uint8 // session version, from the high nibble of the first byte
	RatchetKey      curve.PublicKey
	Counter         uint32
	PreviousCounter uint32
	Ciphertext      []byte
	PQRatchet       []byte // the SPQR message; empty if absent
	Addresses       []byte // nil if absent; AddressesSize bytes when libsignal writes it

	serialized []byte
}

// SignalMessageFields is the content of a SignalMessage to be built.
type SignalMessageFields struct {
	Version         uint8
	RatchetKey      curve.PublicKey
	Counter         uint32
	PreviousCounter uint32
	Ciphertext      []byte
	PQRatchet       []byte
	Addresses       []byte // nil to omit
	// Encrypt, if set, appends the body's ciphertext (exactly CiphertextLen
	// bytes) to the message's own buffer, and Ciphertext is ignored: the
	// body is encrypted where it ends up instead of being copied there.
	Encrypt       func(dst []byte) []byte
	CiphertextLen int
}

// NewSignalMessage encodes f and appends its MAC, computed with macKey over
// the sender's and receiver's serialized identity keys, the version byte and
// the protobuf.
func NewSignalMessage(f SignalMessageFields, macKey []byte, sender, receiver curve.PublicKey) *SignalMessage {
	ctLen := len(f.Ciphertext)
	if f.Encrypt != nil {
		ctLen = f.CiphertextLen
	}
	size := 1 + 2 + curve.PublicKeySize + 1 + protowire.SizeVarint(uint64(f.Counter)) +
		1 + protowire.SizeVarint(uint64(f.PreviousCounter)) + 1 + protowire.SizeBytes(ctLen) +
		1 + protowire.SizeBytes(len(f.PQRatchet)) + 1 + protowire.SizeBytes(len(f.Addresses)) + MACSize
	b := make([]byte, 0, size)
	b = append(b, VersionByte(f.Version))
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = append(b, curve.PublicKeySize)
	b = f.RatchetKey.AppendBytes(b)
	b = appendVarintField(b, 2, uint64(f.Counter))
	b = appendVarintField(b, 3, uint64(f.PreviousCounter))
	if f.Encrypt != nil {
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(ctLen))
		start := len(b)
		if b = f.Encrypt(b); len(b)-start != ctLen {
			panic("message: the body's ciphertext is not CiphertextLen bytes long")
		}
	} else {
		b = appendBytesField(b, 4, f.Ciphertext)
	}
	ctEnd := len(b)
	pqEnd := ctEnd
	if len(f.PQRatchet) > 0 {
		b = appendBytesField(b, 5, f.PQRatchet)
		pqEnd = len(b)
	}
	addrEnd := pqEnd
	if f.Addresses != nil {
		b = appendBytesField(b, 6, f.Addresses)
		addrEnd = len(b)
	}
	mac := computeMAC(macKey, sender, receiver, b)
	b = append(b, mac[:MACSize]...)
	// The slices point into the encoding, so a message holds one copy of its bytes.
	m := &SignalMessage{
		Version:         f.Version,
		RatchetKey:      f.RatchetKey,
		Counter:         f.Counter,
		PreviousCounter: f.PreviousCounter,
		Ciphertext:      b[ctEnd-ctLen : ctEnd : ctEnd],
		PQRatchet:       b[pqEnd-len(f.PQRatchet) : pqEnd : pqEnd],
		serialized:      b,
	}
	if f.Addresses != nil {
		m.Addresses = b[addrEnd-len(f.Addresses) : addrEnd : addrEnd]
	}
	return m
}

var signalKinds = [6]protowire.Type{
	protowire.BytesType,  // 1 ratchet_key
	protowire.VarintType, // 2 counter
	protowire.VarintType, // 3 previous_counter
	protowire.BytesType,  // 4 ciphertext
	protowire.BytesType,  // 5 pq_ratchet
	protowire.BytesType,  // 6 addresses
}

// ParseSignalMessage decodes a SignalMessage. The ratchet key, counter and
// ciphertext are required; the MAC is not checked here (see VerifyMAC).
// The message keeps a copy of b.
func ParseSignalMessage(b []byte) (*SignalMessage, error) {
	if len(b) < 1+MACSize {
		return nil, errs.Newf(errs.InvalidMessage, "SignalMessage of %d bytes is too short", len(b))
	}
	return ParseSignalMessageInPlace(append([]byte(nil), b...))
}

// ParseSignalMessageInPlace is ParseSignalMessage without the copy: the
// message's fields are slices of b, so b must not change while the message
// is in use. It is for a caller that parses, decrypts and drops the message
// in one call (protocol.Decrypt), where copying a long ciphertext would be
// one more pass over it and one more buffer for the collector.
func ParseSignalMessageInPlace(b []byte) (*SignalMessage, error) {
	if len(b) < 1+MACSize {
		return nil, errs.Newf(errs.InvalidMessage, "SignalMessage of %d bytes is too short", len(b))
	}
	version, err := checkVersion(b[0])
	if err != nil {
		return nil, err
	}
	b = b[:len(b):len(b)] // an append to Bytes() never writes past the message
	var fs [6]field
	if err := decodeFields(b[1:len(b)-MACSize], signalKinds[:], fs[:]); err != nil {
		return nil, err
	}
	if !fs[0].set || !fs[1].set || !fs[3].set {
		return nil, errs.New(errs.InvalidMessage, "SignalMessage lacks its ratchet key, counter or ciphertext")
	}
	m := &SignalMessage{Version: version, serialized: b}
	if m.RatchetKey, err = curve.ParsePublicKey(fs[0].bytes); err != nil {
		return nil, errs.New(errs.InvalidMessage, "SignalMessage ratchet key is malformed")
	}
	if m.Counter, err = uint32Field(fs[1], "counter"); err != nil {
		return nil, err
	}
	if m.PreviousCounter, err = uint32Field(fs[2], "previous counter"); err != nil {
		return nil, err
	}
	// Each field is capped at its end, so that an append to it cannot
	// write over the next field or the MAC (in b, when parsed in place).
	m.Ciphertext = capped(fs[3].bytes)
	m.PQRatchet = capped(fs[4].bytes)
	if fs[5].set {
		m.Addresses = capped(fs[5].bytes)
	}
	return m, nil
}

func capped(b []byte) []byte { return b[:len(b):len(b)] }

// Bytes returns the serialized message. The caller must not modify it.
func (m *SignalMessage) Bytes() []byte { return m.serialized }

// VerifyMAC reports whether the message's MAC is right for macKey and the
// sender's and receiver's identity keys, comparing in constant time.
func (m *SignalMessage) VerifyMAC(macKey []byte, sender, receiver curve.PublicKey) bool {
	n := len(m.serialized) - MACSize
	want := computeMAC(macKey, sender, receiver, m.serialized[:n])
	return subtle.ConstantTimeCompare(want[:MACSize], m.serialized[n:]) == 1
}

// computeMAC returns HMAC-SHA256(macKey, sender || receiver || msg), with
// both identity keys in their 33-byte serialized form.
func computeMAC(macKey []byte, sender, receiver curve.PublicKey, msg []byte) [sha256.Size]byte {
	var keys [2 * curve.PublicKeySize]byte
	sender.AppendBytes(keys[:0])
	receiver.AppendBytes(keys[:curve.PublicKeySize])
	return kdf.HMACLong(macKey, keys[:], msg) // msg is the message's own (heap) buffer
}
