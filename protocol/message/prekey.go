package message

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/kem"
)

// PreKeySignalMessage is the first kind of message of a session the sender
// started from a prekey bundle (envelope type 3): the PQXDH values the
// recipient needs to build the session, around a SignalMessage. It carries no
// MAC of its own.
type PreKeySignalMessage struct {
	Version         uint8
	RegistrationID  uint32 // the sender's; 0 if absent
	HasPreKeyID     bool   // whether a one-time EC prekey was used
	PreKeyID        uint32
	SignedPreKeyID  uint32
	KyberPreKeyID   uint32
	KyberCiphertext []byte // kem.CiphertextSize bytes
	BaseKey         curve.PublicKey
	IdentityKey     curve.PublicKey
	Message         *SignalMessage

	serialized []byte
}

var preKeyKinds = [8]protowire.Type{
	protowire.VarintType, // 1 pre_key_id
	protowire.BytesType,  // 2 base_key
	protowire.BytesType,  // 3 identity_key
	protowire.BytesType,  // 4 message
	protowire.VarintType, // 5 registration_id
	protowire.VarintType, // 6 signed_pre_key_id
	protowire.VarintType, // 7 kyber_pre_key_id
	protowire.BytesType,  // 8 kyber_ciphertext
}

// Encode serializes m in libsignal's field order (1, 2, 3, 4, 5, 6, 7, 8),
// always writing the registration ID, omitting the one-time prekey ID when
// none was used and the Kyber fields when there is no Kyber ciphertext. It records and returns the encoding.
func (m *PreKeySignalMessage) Encode() []byte {
	inner := m.Message.Bytes()
	size := 1 + 6 + 2*(2+curve.PublicKeySize) + 1 + protowire.SizeBytes(len(inner)) + 3*6 +
		2 + protowire.SizeBytes(len(m.KyberCiphertext))
	b := make([]byte, 0, size)
	b = append(b, VersionByte(m.Version))
	if m.HasPreKeyID {
		b = appendVarintField(b, 1, uint64(m.PreKeyID))
	}
	b = appendBytesField(b, 2, m.BaseKey.Bytes())
	b = appendBytesField(b, 3, m.IdentityKey.Bytes())
	b = appendBytesField(b, 4, inner)
	b = appendVarintField(b, 5, uint64(m.RegistrationID))
	b = appendVarintField(b, 6, uint64(m.SignedPreKeyID))
	if m.KyberCiphertext != nil {
		b = appendVarintField(b, 7, uint64(m.KyberPreKeyID))
		b = appendBytesField(b, 8, m.KyberCiphertext)
	}
	m.serialized = b
	return b
}

// Bytes returns the serialized message (Encode's result, or the parsed input).
func (m *PreKeySignalMessage) Bytes() []byte { return m.serialized }

// ParsePreKeySignalMessage decodes a PreKeySignalMessage and the
// SignalMessage inside it. The base key, identity key, inner message and
// signed prekey ID are required, and so are the Kyber prekey ID and
// ciphertext for version 4 (version 3, X3DH, has neither and is refused by
// the session layer). The Kyber ciphertext must be 0x08 and 1568 bytes.
func ParsePreKeySignalMessage(b []byte) (*PreKeySignalMessage, error) {
	if len(b) == 0 {
		return nil, errs.New(errs.InvalidMessage, "empty PreKeySignalMessage")
	}
	version, err := checkVersion(b[0])
	if err != nil {
		return nil, err
	}
	b = append([]byte(nil), b...)
	var fs [8]field
	if err := decodeFields(b[1:], preKeyKinds[:], fs[:]); err != nil {
		return nil, err
	}
	if !fs[1].set || !fs[2].set || !fs[3].set || !fs[5].set {
		return nil, errs.New(errs.InvalidMessage, "PreKeySignalMessage lacks its base key, identity key, message or signed prekey ID")
	}
	m := &PreKeySignalMessage{Version: version, serialized: b, HasPreKeyID: fs[0].set}
	if m.PreKeyID, err = uint32Field(fs[0], "prekey ID"); err != nil {
		return nil, err
	}
	if m.RegistrationID, err = uint32Field(fs[4], "registration ID"); err != nil {
		return nil, err
	}
	if m.SignedPreKeyID, err = uint32Field(fs[5], "signed prekey ID"); err != nil {
		return nil, err
	}
	switch {
	case fs[6].set && fs[7].set:
		if m.KyberPreKeyID, err = uint32Field(fs[6], "Kyber prekey ID"); err != nil {
			return nil, err
		}
		ct := fs[7].bytes
		if len(ct) != kem.CiphertextSize || ct[0] != kem.TypeKyber1024 {
			return nil, errs.Newf(errs.InvalidMessage, "Kyber ciphertext of %d bytes or of the wrong type", len(ct))
		}
		m.KyberCiphertext = ct
	case fs[6].set || fs[7].set:
		return nil, errs.New(errs.InvalidMessage, "Kyber prekey ID and ciphertext must come together")
	case version > PreKyberVersion:
		return nil, errs.New(errs.InvalidMessage, "Kyber prekey must be present for this session version")
	}
	if m.BaseKey, err = curve.ParsePublicKey(fs[1].bytes); err != nil {
		return nil, errs.New(errs.InvalidMessage, "PreKeySignalMessage base key is malformed")
	}
	if m.IdentityKey, err = curve.ParsePublicKey(fs[2].bytes); err != nil {
		return nil, errs.New(errs.InvalidMessage, "PreKeySignalMessage identity key is malformed")
	}
	// fs[3] is a slice of b, which is this message's own copy.
	if m.Message, err = ParseSignalMessageInPlace(fs[3].bytes); err != nil {
		return nil, err
	}
	return m, nil
}

// HasKyber reports whether the message carries a Kyber prekey ID and ciphertext.
func (m *PreKeySignalMessage) HasKyber() bool { return m.KyberCiphertext != nil }
