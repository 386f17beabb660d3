package interop

import (
	"errors"
	"fmt"
)

// MACSize is the length of the truncated HMAC-SHA256 at the end of a
// SignalMessage.
const MACSize = 8

// SignalMessage is a parsed SignalMessage (envelope type 2):
// version byte ‖ protobuf ‖ 8-byte MAC.
type SignalMessage struct {
	Version         byte   // 0x44 for current sessions
	RatchetKey      []byte // 33 bytes, 0x05 ‖ X25519 public key
	Counter         uint32
	PreviousCounter uint32
	Ciphertext      []byte
	PQRatchet       []byte // the SPQR message; parse it with ParsePQRatchet
	Addresses       []byte // 36 bytes or nil; only in PreKey-wrapped messages
	MAC             []byte
	FieldOrder      []int // field numbers as they appear on the wire
}

// ParseSignalMessage parses b. It checks the structure (required fields,
// wire types, key and addresses lengths) but not the MAC.
func ParseSignalMessage(b []byte) (SignalMessage, error) {
	var m SignalMessage
	if len(b) < 1+MACSize {
		return m, fmt.Errorf("SignalMessage of %d bytes is shorter than version byte and MAC", len(b))
	}
	m.Version = b[0]
	m.MAC = b[len(b)-MACSize:]
	var err error
	m.FieldOrder, err = eachField("SignalMessage", b[1:len(b)-MACSize], func(f field) (err error) {
		switch f.Num {
		case 1:
			m.RatchetKey, err = bytesField(f, "ratchet_key", 33)
			if err == nil && m.RatchetKey[0] != 0x05 {
				err = fmt.Errorf("ratchet_key has type byte %#02x, want 0x05", m.RatchetKey[0])
			}
		case 2:
			m.Counter, err = uint32Field(f, "counter")
		case 3:
			m.PreviousCounter, err = uint32Field(f, "previous_counter")
		case 4:
			m.Ciphertext, err = bytesField(f, "ciphertext", 0)
		case 5:
			m.PQRatchet, err = bytesField(f, "pq_ratchet", 0)
		case 6:
			m.Addresses, err = bytesField(f, "addresses", 36)
		}
		return err
	})
	if err != nil {
		return m, err
	}
	return m, requireFields("SignalMessage", m.FieldOrder, map[int]string{1: "ratchet_key", 2: "counter", 4: "ciphertext"})
}

// PreKeySignalMessage is a parsed PreKeySignalMessage (envelope type 3):
// version byte ‖ protobuf, with the first SignalMessage inside.
type PreKeySignalMessage struct {
	Version         byte
	PreKeyID        *uint32 // nil when no one-time prekey was used
	BaseKey         []byte  // 33 bytes
	IdentityKey     []byte  // 33 bytes
	Message         []byte  // the serialized SignalMessage, MAC included
	RegistrationID  uint32
	SignedPreKeyID  uint32
	KyberPreKeyID   uint32
	KyberCiphertext []byte // 1569 bytes, 0x08 ‖ Kyber1024 ciphertext
	Signal          SignalMessage
	FieldOrder      []int
}

// ParsePreKeySignalMessage parses b and the SignalMessage inside it.
func ParsePreKeySignalMessage(b []byte) (PreKeySignalMessage, error) {
	var m PreKeySignalMessage
	if len(b) < 1 {
		return m, errors.New("PreKeySignalMessage is empty")
	}
	m.Version = b[0]
	var err error
	m.FieldOrder, err = eachField("PreKeySignalMessage", b[1:], func(f field) (err error) {
		switch f.Num {
		case 1:
			var id uint32
			id, err = uint32Field(f, "pre_key_id")
			m.PreKeyID = &id
		case 2:
			m.BaseKey, err = bytesField(f, "base_key", 33)
		case 3:
			m.IdentityKey, err = bytesField(f, "identity_key", 33)
		case 4:
			m.Message, err = bytesField(f, "message", 0)
		case 5:
			m.RegistrationID, err = uint32Field(f, "registration_id")
		case 6:
			m.SignedPreKeyID, err = uint32Field(f, "signed_pre_key_id")
		case 7:
			m.KyberPreKeyID, err = uint32Field(f, "kyber_pre_key_id")
		case 8:
			m.KyberCiphertext, err = bytesField(f, "kyber_ciphertext", 1569)
		}
		return err
	})
	if err == nil {
		err = requireFields("PreKeySignalMessage", m.FieldOrder, map[int]string{2: "base_key", 3: "identity_key", 4: "message", 6: "signed_pre_key_id", 7: "kyber_pre_key_id", 8: "kyber_ciphertext"})
	}
	if err != nil {
		return m, err
	}
	m.Signal, err = ParseSignalMessage(m.Message)
	if err != nil {
		return m, fmt.Errorf("PreKeySignalMessage: inner %w", err)
	}
	return m, nil
}

// PreKeyMessageSize is the size a PreKeySignalMessage must have when it is
// encoded as libsignal encodes it (fields in ascending order, counter and
// previous_counter always present, nothing else) for the given inner
// message. The suite compares this with real messages to catch stray or
// missing bytes.
func PreKeyMessageSize(m PreKeySignalMessage) int {
	n := 1 // version
	if m.PreKeyID != nil {
		n += 1 + varintLen(uint64(*m.PreKeyID))
	}
	n += 2 + 33 + 2 + 33                                        // base_key, identity_key
	n += 1 + varintLen(uint64(len(m.Message))) + len(m.Message) // message
	n += 1 + varintLen(uint64(m.RegistrationID))
	n += 1 + varintLen(uint64(m.SignedPreKeyID))
	n += 1 + varintLen(uint64(m.KyberPreKeyID))
	n += 3 + 1569 // kyber_ciphertext: key, 2-byte length, bytes
	return n
}

// SignalMessageSize is the size of a SignalMessage encoded as libsignal
// encodes it, given its field values.
func SignalMessageSize(m SignalMessage) int {
	n := 1 + 2 + 33 // version, ratchet_key
	n += 1 + varintLen(uint64(m.Counter))
	n += 1 + varintLen(uint64(m.PreviousCounter))
	n += 1 + varintLen(uint64(len(m.Ciphertext))) + len(m.Ciphertext)
	if len(m.PQRatchet) > 0 {
		n += 1 + varintLen(uint64(len(m.PQRatchet))) + len(m.PQRatchet)
	}
	if m.Addresses != nil {
		n += 2 + 36
	}
	return n + MACSize
}
