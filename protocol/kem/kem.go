// Package kem implements the Kyber1024 key encapsulation of libsignal's
// PQXDH prekeys (KEM type byte 0x08).
//
// libsignal 0.103 uses round-3 Kyber1024, not FIPS 203 ML-KEM-1024. The two
// share parameters and the encodings of keys and ciphertexts, and for honest
// inputs they differ only in the final key derivation: round 3 returns
// SHAKE256(K || SHA3-256(c), 32) where ML-KEM returns K. This package runs
// Go's crypto/mlkem and applies that conversion, so its shared secrets equal
// round-3 Kyber's (the tests check it with round-3 known-answer values).
// Serialized public keys and ciphertexts are libsignal's: 0x08 followed by
// 1568 bytes.
package kem

import (
	"crypto/mlkem"
	"crypto/sha3"
	"fmt"

	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/redact"
)

const (
	// TypeKyber1024 is the type byte of Kyber1024 keys and ciphertexts.
	TypeKyber1024 = 0x08
	// PublicKeySize is the serialized size of a public key: type byte + 1568.
	PublicKeySize = 1 + mlkem.EncapsulationKeySize1024
	// CiphertextSize is the serialized size of a ciphertext: type byte + 1568.
	CiphertextSize = 1 + mlkem.CiphertextSize1024
	// SecretKeySize is the size of Sky's serialized secret key: the type
	// byte and the 64-byte FIPS 203 seed (d || z). libsignal's own
	// 3169-byte expanded form is not used: crypto/mlkem cannot import it,
	// and secret keys never leave the device.
	SecretKeySize = 1 + mlkem.SeedSize
	// SharedSize is the size of the shared secret.
	SharedSize = 32
)

// PublicKey is a Kyber1024 public (encapsulation) key.
type PublicKey struct {
	raw []byte // the serialized form, 0x08 || ek
}

// ParsePublicKey decodes 0x08 || 1568 bytes, rejecting any other type byte
// (libsignal 0.103 rejects ML-KEM-1024's 0x0A too) and any other length.
// Like libsignal it does not decode the key's coefficients yet, so that a
// tampered key in a bundle fails its signature check first; Validate and
// Encapsulate refuse out-of-range coefficients.
func ParsePublicKey(b []byte) (*PublicKey, error) {
	if len(b) == 0 {
		return nil, errs.New(errs.InvalidKey, "empty KEM public key")
	}
	if b[0] != TypeKyber1024 {
		return nil, errs.Newf(errs.InvalidKey, "KEM key type 0x%02x, want 0x08 (Kyber1024)", b[0])
	}
	if len(b) != PublicKeySize {
		return nil, errs.Newf(errs.InvalidKey, "KEM public key of %d bytes, want %d", len(b), PublicKeySize)
	}
	return &PublicKey{raw: append([]byte(nil), b...)}, nil
}

func (k *PublicKey) key() (*mlkem.EncapsulationKey1024, error) {
	ek, err := mlkem.NewEncapsulationKey1024(k.raw[1:])
	if err != nil {
		return nil, errs.New(errs.InvalidKey, "KEM public key has out-of-range coefficients")
	}
	return ek, nil
}

// Validate checks that the key's coefficients decode (FIPS 203's
// encapsulation key check).
func (k *PublicKey) Validate() error {
	_, err := k.key()
	return err
}

// Bytes returns the serialized key (1569 bytes). The caller must not modify it.
func (k *PublicKey) Bytes() []byte { return k.raw }

// Equal reports whether k and o are the same key.
func (k *PublicKey) Equal(o *PublicKey) bool { return string(k.raw) == string(o.raw) }

// Encapsulate returns a fresh shared secret and its serialized ciphertext
// (0x08 || 1568 bytes) for k, using crypto/rand. It fails with ErrInvalidKey
// if the key does not decode.
func (k *PublicKey) Encapsulate() (shared [SharedSize]byte, ciphertext []byte, err error) {
	ek, err := k.key()
	if err != nil {
		return shared, nil, err
	}
	key, ct := ek.Encapsulate()
	shared, ciphertext = finish(key, ct)
	return shared, ciphertext, nil
}

// finish turns an ML-KEM result into round-3 Kyber's: the shared secret is
// SHAKE256(K || SHA3-256(ct), 32), ct without the type byte.
func finish(key, ct []byte) ([SharedSize]byte, []byte) {
	out := make([]byte, 1, CiphertextSize)
	out[0] = TypeKyber1024
	out = append(out, ct...)
	return round3Secret(key, ct), out
}

func round3Secret(key, ct []byte) [SharedSize]byte {
	h := sha3.Sum256(ct)
	x := sha3.NewSHAKE256()
	x.Write(key)
	x.Write(h[:])
	var ss [SharedSize]byte
	x.Read(ss[:])
	return ss
}

// SecretKey is a Kyber1024 secret (decapsulation) key.
type SecretKey struct {
	dk *mlkem.DecapsulationKey1024
}

// ParseSecretKey decodes Sky's serialized secret key, 0x08 || 64-byte seed.
func ParseSecretKey(b []byte) (*SecretKey, error) {
	if len(b) != SecretKeySize || b[0] != TypeKyber1024 {
		return nil, errs.Newf(errs.InvalidKey, "KEM secret key of %d bytes, want 0x08 and a 64-byte seed", len(b))
	}
	dk, err := mlkem.NewDecapsulationKey1024(b[1:])
	if err != nil {
		return nil, errs.New(errs.InvalidKey, "KEM secret key seed rejected")
	}
	return &SecretKey{dk: dk}, nil
}

// Bytes returns the serialized secret key. Treat it as secret.
func (sk *SecretKey) Bytes() []byte {
	return append([]byte{TypeKyber1024}, sk.dk.Bytes()...)
}

// PublicKey returns the public key of sk.
func (sk *SecretKey) PublicKey() *PublicKey {
	return &PublicKey{raw: append([]byte{TypeKyber1024}, sk.dk.EncapsulationKey().Bytes()...)}
}

// Decapsulate returns the shared secret of a serialized ciphertext. A
// ciphertext of the wrong type or length is refused with ErrInvalidMessage;
// a well-formed but wrong one yields an unrelated secret (implicit rejection),
// which the message MAC then catches.
func (sk *SecretKey) Decapsulate(ciphertext []byte) ([SharedSize]byte, error) {
	if len(ciphertext) != CiphertextSize || ciphertext[0] != TypeKyber1024 {
		return [SharedSize]byte{}, errs.Newf(errs.InvalidMessage, "KEM ciphertext of %d bytes or wrong type, want 0x08 and %d bytes", len(ciphertext), CiphertextSize-1)
	}
	key, err := sk.dk.Decapsulate(ciphertext[1:])
	if err != nil {
		return [SharedSize]byte{}, errs.New(errs.InvalidMessage, "KEM ciphertext rejected")
	}
	return round3Secret(key, ciphertext[1:]), nil
}

// Format redacts the key under every fmt verb.
func (sk SecretKey) Format(f fmt.State, _ rune) { redact.Format(f, "kem.SecretKey") }

// String redacts the key.
func (sk SecretKey) String() string { return redact.String("kem.SecretKey") }

// GoString redacts the key.
func (sk SecretKey) GoString() string { return redact.String("kem.SecretKey") }

// KeyPair is a Kyber1024 key pair.
type KeyPair struct {
	Public *PublicKey
	Secret *SecretKey
}

// GenerateKeyPair returns a new random key pair (crypto/rand).
func GenerateKeyPair() KeyPair {
	dk, err := mlkem.GenerateKey1024()
	if err != nil {
		panic("kem: " + err.Error()) // crypto/mlkem does not fail here
	}
	sk := &SecretKey{dk: dk}
	return KeyPair{Public: sk.PublicKey(), Secret: sk}
}

// Format redacts the secret half under every fmt verb.
func (kp KeyPair) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{Public:kem.PublicKey Secret:%s}", redact.String("kem.SecretKey"))
}
