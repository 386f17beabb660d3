// Package curve implements Curve25519 keys as the Signal protocol uses them:
// X25519 key agreement, XEdDSA signatures made and checked with the X25519
// key itself, and libsignal's serialized forms (a public key is the type byte
// 0x05 followed by the 32-byte u-coordinate; a private key is the 32-byte
// clamped scalar).
//
// X25519 is the RFC 7748 ladder (x25519.go) and public keys come from
// fixed-base multiplication, both on filippo.io/edwards25519, as XEdDSA is.
// Randomness comes from crypto/rand.
package curve

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"

	"filippo.io/edwards25519"

	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/redact"
)

const (
	// KeyTypeDjb is the type byte of a serialized Curve25519 public key.
	KeyTypeDjb = 0x05
	// PublicKeySize is the size of a serialized public key: type byte and u.
	PublicKeySize = 33
	// PrivateKeySize is the size of a serialized private key.
	PrivateKeySize = 32
	// SharedSize is the size of an X25519 shared secret.
	SharedSize = 32
)

// PublicKey is a Curve25519 public key: an X25519 u-coordinate. Public keys
// compare with ==.
type PublicKey struct {
	u [32]byte
}

// ParsePublicKey decodes a serialized public key: 0x05 followed by exactly 32
// bytes. (libsignal also accepts and ignores trailing bytes; Sky does not, so a
// key has exactly one accepted encoding.) It does not check that the key is
// canonical; see IsCanonical.
func ParsePublicKey(b []byte) (PublicKey, error) {
	if len(b) == 0 {
		return PublicKey{}, errs.New(errs.InvalidKey, "empty public key")
	}
	if b[0] != KeyTypeDjb {
		return PublicKey{}, errs.Newf(errs.InvalidKey, "public key type 0x%02x, want 0x05", b[0])
	}
	if len(b) != PublicKeySize {
		return PublicKey{}, errs.Newf(errs.InvalidKey, "public key of %d bytes, want 33", len(b))
	}
	var k PublicKey
	copy(k.u[:], b[1:])
	return k, nil
}

// PublicKeyFromU returns the public key with the raw u-coordinate u.
func PublicKeyFromU(u [32]byte) PublicKey { return PublicKey{u: u} }

// Bytes returns the 33-byte serialized form, 0x05 || u.
func (k PublicKey) Bytes() []byte { return k.AppendBytes(make([]byte, 0, PublicKeySize)) }

// AppendBytes appends the 33-byte serialized form to b.
func (k PublicKey) AppendBytes(b []byte) []byte {
	b = append(b, KeyTypeDjb)
	return append(b, k.u[:]...)
}

// U returns the raw 32-byte u-coordinate.
func (k PublicKey) U() [32]byte { return k.u }

// IsZero reports whether k is the zero value (which no Parse returns).
func (k PublicKey) IsZero() bool { return k == PublicKey{} }

// String returns the serialized key in hex. Public keys are not secret.
func (k PublicKey) String() string { return hex.EncodeToString(k.Bytes()) }

// PrivateKey is a Curve25519 private key: a clamped 32-byte scalar.
// The zero value is not a usable key.
type PrivateKey struct {
	k [32]byte
}

// ParsePrivateKey decodes a 32-byte private key and clamps it, as libsignal
// does, so that every 32-byte string is accepted.
func ParsePrivateKey(b []byte) (PrivateKey, error) {
	if len(b) != PrivateKeySize {
		return PrivateKey{}, errs.Newf(errs.InvalidKey, "private key of %d bytes, want 32", len(b))
	}
	var p PrivateKey
	copy(p.k[:], b)
	clamp(&p.k)
	return p, nil
}

func clamp(k *[32]byte) {
	k[0] &= 248
	k[31] &= 127
	k[31] |= 64
}

// Bytes returns the 32-byte clamped scalar. Treat it as secret.
func (p PrivateKey) Bytes() []byte {
	b := p.k
	return b[:]
}

// PublicKey computes the public key of p: X25519(p, 9), worked out as the
// Montgomery form of [p]B on Edwards25519 with filippo.io/edwards25519's
// fixed-base tables (B maps to u = 9 and has prime order, so [p mod ℓ]B is
// the same point), which is several times faster than a ladder.
func (p PrivateKey) PublicKey() PublicKey {
	s, err := edwards25519.NewScalar().SetBytesWithClamping(p.k[:])
	if err != nil {
		panic("curve: " + err.Error()) // unreachable: 32 bytes
	}
	var pub PublicKey
	copy(pub.u[:], new(edwards25519.Point).ScalarBaseMult(s).BytesMontgomery())
	return pub
}

// Agree returns X25519(p, their), refusing an all-zero result (which a
// low-order public key produces) with ErrInvalidKey, as libsignal does.
func (p PrivateKey) Agree(their PublicKey) ([SharedSize]byte, error) {
	out := x25519(&p.k, &their.u)
	var zero [SharedSize]byte
	if subtle.ConstantTimeCompare(out[:], zero[:]) == 1 {
		return out, errs.New(errs.InvalidKey, "key agreement gave the all-zero secret")
	}
	return out, nil
}

// Equal reports whether p and q are the same key, in constant time.
func (p PrivateKey) Equal(q PrivateKey) bool {
	return subtle.ConstantTimeCompare(p.k[:], q.k[:]) == 1
}

// Format redacts the key under every fmt verb.
func (p PrivateKey) Format(f fmt.State, _ rune) { redact.Format(f, "curve.PrivateKey") }

// String redacts the key.
func (p PrivateKey) String() string { return redact.String("curve.PrivateKey") }

// GoString redacts the key.
func (p PrivateKey) GoString() string { return redact.String("curve.PrivateKey") }

// KeyPair is a private key and its public key.
type KeyPair struct {
	Public  PublicKey
	Private PrivateKey
}

// GenerateKeyPair returns a new random key pair (crypto/rand).
func GenerateKeyPair() KeyPair {
	var p PrivateKey
	rand.Read(p.k[:])
	clamp(&p.k)
	return KeyPair{Public: p.PublicKey(), Private: p}
}

// NewKeyPair returns the key pair of a private key.
func NewKeyPair(p PrivateKey) KeyPair { return KeyPair{Public: p.PublicKey(), Private: p} }

// Format redacts the private half under every fmt verb.
func (kp KeyPair) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{Public:%s Private:%s}", kp.Public, redact.String("curve.PrivateKey"))
}

// String redacts the private half.
func (kp KeyPair) String() string { return fmt.Sprint(kp) }

// GoString redacts the private half.
func (kp KeyPair) GoString() string { return fmt.Sprint(kp) }
