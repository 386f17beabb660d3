// Package identity holds a device's long-term identity: its Curve25519
// identity key pair, serialized as libsignal serializes it, and its
// registration ID.
//
// An identity key is a curve.PublicKey; it signs the device's prekeys
// (XEdDSA) and is what safety numbers are computed from.
package identity

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/redact"
)

// KeyPair is an identity key pair.
type KeyPair struct {
	Public  curve.PublicKey
	Private curve.PrivateKey
}

// Generate returns a new random identity key pair.
func Generate() KeyPair {
	kp := curve.GenerateKeyPair()
	return KeyPair{Public: kp.Public, Private: kp.Private}
}

// FromPrivate returns the identity key pair of a private key.
func FromPrivate(p curve.PrivateKey) KeyPair {
	return KeyPair{Public: p.PublicKey(), Private: p}
}

// Curve returns the pair as a curve.KeyPair.
func (kp KeyPair) Curve() curve.KeyPair { return curve.KeyPair{Public: kp.Public, Private: kp.Private} }

// MarshalBinary returns libsignal's IdentityKeyPairStructure protobuf:
// field 1 the serialized public key (33 bytes), field 2 the private key (32).
// The result is secret.
func (kp KeyPair) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 2+33+2+32)
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, kp.Public.Bytes())
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, kp.Private.Bytes())
	return b, nil
}

// Parse decodes an IdentityKeyPairStructure. Both fields are required, the
// public key must be the private key's, and unknown fields are skipped as
// protobuf allows.
func Parse(b []byte) (KeyPair, error) {
	var pub, priv []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return KeyPair{}, errs.New(errs.InvalidKey, "identity key pair: bad protobuf tag")
		}
		b = b[n:]
		if (num == 1 || num == 2) && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return KeyPair{}, errs.New(errs.InvalidKey, "identity key pair: truncated field")
			}
			if num == 1 {
				pub = v
			} else {
				priv = v
			}
			b = b[m:]
			continue
		}
		if num == 1 || num == 2 {
			return KeyPair{}, errs.New(errs.InvalidKey, "identity key pair: field of the wrong type")
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return KeyPair{}, errs.New(errs.InvalidKey, "identity key pair: bad protobuf field")
		}
		b = b[m:]
	}
	if pub == nil || priv == nil {
		return KeyPair{}, errs.New(errs.InvalidKey, "identity key pair: missing public or private key")
	}
	p, err := curve.ParsePrivateKey(priv)
	if err != nil {
		return KeyPair{}, err
	}
	k, err := curve.ParsePublicKey(pub)
	if err != nil {
		return KeyPair{}, err
	}
	if p.PublicKey() != k {
		return KeyPair{}, errs.New(errs.InvalidKey, "identity key pair: public key does not match the private key")
	}
	return KeyPair{Public: k, Private: p}, nil
}

// Format redacts the private key under every fmt verb.
func (kp KeyPair) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{Public:%s Private:%s}", kp.Public, redact.String("curve.PrivateKey"))
}

// MaxRegistrationID is the largest registration ID: registration IDs fit 14
// bits (sealed sender v2 requires it).
const MaxRegistrationID = 0x3FFF

// NewRegistrationID returns a random registration ID in 1..16380, the range
// Signal clients use.
func NewRegistrationID() uint32 {
	var b [4]byte
	for {
		rand.Read(b[:])
		v := binary.LittleEndian.Uint32(b[:]) & MaxRegistrationID
		if v >= 1 && v <= 16380 {
			return v
		}
	}
}

// ValidRegistrationID reports whether id is in the range libsignal accepts
// for sealed sender v2 (nonzero and at most 14 bits).
func ValidRegistrationID(id uint32) bool { return id >= 1 && id <= MaxRegistrationID }
