// Package vrf is the verifiable random function of RFC 9381,
// ECVRF-EDWARDS25519-SHA512-TAI (suite 0x03), on filippo.io/edwards25519.
//
// The key directory hides account IDs behind it: an entry sits at the VRF
// output of its account ID, which only the directory can compute, while
// anyone given the proof can check that the output belongs to that ID. So
// the tree lists no account, and a lookup proves where an account's entry
// must be. The package is pure: no I/O, no clock; randomness only where a
// key is generated (crypto/rand).
package vrf

import (
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"fmt"

	"filippo.io/edwards25519"
)

// Sizes of keys, proofs and outputs (RFC 9381 section 5.5: ptLen 32,
// cLen 16, qLen 32, hLen 64).
const (
	PublicKeySize  = 32
	PrivateKeySize = 32
	ProofSize      = 80
	OutputSize     = 64
)

const suite = 0x03

// ErrInvalidProof says that a proof does not verify for the key and input.
var ErrInvalidProof = errors.New("vrf: invalid proof")

// ErrInvalidKey says that a public key is not a canonical encoding of a
// point of large order.
var ErrInvalidKey = errors.New("vrf: invalid public key")

// A PrivateKey is an RFC 8032 secret key (the 32-byte seed). It never
// prints itself.
type PrivateKey struct {
	seed [PrivateKeySize]byte
	x    *edwards25519.Scalar
	pub  PublicKey
}

// A PublicKey is the encoded point Y = x·B.
type PublicKey [PublicKeySize]byte

// GenerateKey returns a new private key from crypto/rand.
func GenerateKey() *PrivateKey {
	var seed [PrivateKeySize]byte
	if _, err := rand.Read(seed[:]); err != nil {
		panic("vrf: crypto/rand failed: " + err.Error())
	}
	k, _ := NewPrivateKey(seed[:])
	return k
}

// NewPrivateKey derives the key pair from a 32-byte seed, as Ed25519 does.
func NewPrivateKey(seed []byte) (*PrivateKey, error) {
	if len(seed) != PrivateKeySize {
		return nil, fmt.Errorf("vrf: private key is %d bytes, want %d", len(seed), PrivateKeySize)
	}
	k := &PrivateKey{}
	copy(k.seed[:], seed)
	h := sha512.Sum512(k.seed[:])
	x, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	if err != nil {
		panic("vrf: " + err.Error()) // unreachable: 32 bytes
	}
	k.x = x
	copy(k.pub[:], new(edwards25519.Point).ScalarBaseMult(x).Bytes())
	return k, nil
}

// Bytes returns the seed, for storing the key.
func (k *PrivateKey) Bytes() []byte { return bytes.Clone(k.seed[:]) }

// Public returns the public key.
func (k *PrivateKey) Public() PublicKey { return k.pub }

// Format keeps the key out of logs and errors.
func (k *PrivateKey) Format(f fmt.State, _ rune) { f.Write([]byte("vrf.PrivateKey(REDACTED)")) }

// Prove returns the proof π for alpha (RFC 9381 section 5.1).
func (k *PrivateKey) Prove(alpha []byte) [ProofSize]byte {
	h := encodeToCurve(k.pub[:], alpha)
	hs := h.Bytes()
	gamma := new(edwards25519.Point).ScalarMult(k.x, h)
	nonce := k.nonce(hs)
	kB := new(edwards25519.Point).ScalarBaseMult(nonce)
	kH := new(edwards25519.Point).ScalarMult(nonce, h)
	c := challenge(k.pub[:], hs, gamma.Bytes(), kB.Bytes(), kH.Bytes())
	cs := scalarFromChallenge(c)
	s := edwards25519.NewScalar().MultiplyAdd(cs, k.x, nonce)
	var pi [ProofSize]byte
	copy(pi[:32], gamma.Bytes())
	copy(pi[32:48], c[:])
	copy(pi[48:], s.Bytes())
	return pi
}

// Evaluate returns the output β for alpha and its proof.
func (k *PrivateKey) Evaluate(alpha []byte) (beta [OutputSize]byte, pi [ProofSize]byte) {
	pi = k.Prove(alpha)
	gamma, _ := new(edwards25519.Point).SetBytes(pi[:32])
	return proofToHash(gamma), pi
}

// nonce is RFC 9381 section 5.4.2.2 (RFC 8032's nonce derivation).
func (k *PrivateKey) nonce(hs []byte) *edwards25519.Scalar {
	h := sha512.Sum512(k.seed[:])
	d := sha512.New()
	d.Write(h[32:])
	d.Write(hs)
	n, err := edwards25519.NewScalar().SetUniformBytes(d.Sum(nil))
	if err != nil {
		panic("vrf: " + err.Error()) // unreachable: 64 bytes
	}
	return n
}

// Verify checks pi for alpha under pk (RFC 9381 section 5.3, with key
// validation) and returns the output β.
func (pk PublicKey) Verify(alpha, pi []byte) ([OutputSize]byte, error) {
	var beta [OutputSize]byte
	y, err := decodePoint(pk[:])
	if err != nil || isSmallOrder(y) {
		return beta, ErrInvalidKey
	}
	if len(pi) != ProofSize {
		return beta, ErrInvalidProof
	}
	gamma, err := decodePoint(pi[:32])
	if err != nil {
		return beta, ErrInvalidProof
	}
	var c [16]byte
	copy(c[:], pi[32:48])
	s, err := edwards25519.NewScalar().SetCanonicalBytes(pi[48:])
	if err != nil {
		return beta, ErrInvalidProof
	}
	h := encodeToCurve(pk[:], alpha)
	cs := scalarFromChallenge(c)
	negC := edwards25519.NewScalar().Negate(cs)
	// U = s·B − c·Y, V = s·H − c·Γ
	u := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(negC, y, s)
	sH := new(edwards25519.Point).ScalarMult(s, h)
	cG := new(edwards25519.Point).ScalarMult(cs, gamma)
	v := new(edwards25519.Point).Subtract(sH, cG)
	got := challenge(pk[:], h.Bytes(), gamma.Bytes(), u.Bytes(), v.Bytes())
	if got != c {
		return beta, ErrInvalidProof
	}
	return proofToHash(gamma), nil
}

// ProofToHash returns β for a proof without checking it; use Verify.
func ProofToHash(pi []byte) ([OutputSize]byte, error) {
	if len(pi) != ProofSize {
		return [OutputSize]byte{}, ErrInvalidProof
	}
	gamma, err := decodePoint(pi[:32])
	if err != nil {
		return [OutputSize]byte{}, ErrInvalidProof
	}
	return proofToHash(gamma), nil
}

func proofToHash(gamma *edwards25519.Point) [OutputSize]byte {
	g8 := new(edwards25519.Point).MultByCofactor(gamma)
	return sha512.Sum512(append([]byte{suite, 0x03}, append(g8.Bytes(), 0x00)...))
}

// encodeToCurve is try-and-increment (RFC 9381 section 5.4.1.1) with the
// public key as salt.
func encodeToCurve(salt, alpha []byte) *edwards25519.Point {
	for ctr := 0; ctr < 256; ctr++ {
		d := sha512.New()
		d.Write([]byte{suite, 0x01})
		d.Write(salt)
		d.Write(alpha)
		d.Write([]byte{byte(ctr), 0x00})
		hs := d.Sum(nil)
		p, err := new(edwards25519.Point).SetBytes(hs[:32])
		if err != nil {
			continue
		}
		p.MultByCofactor(p)
		if p.Equal(edwards25519.NewIdentityPoint()) == 1 {
			continue
		}
		return p
	}
	// The chance of 256 failures is about 2^-256.
	panic("vrf: encode to curve found no point")
}

// challenge is RFC 9381 section 5.4.3 with the five points of the final
// RFC (Y, H, Γ, U, V).
func challenge(points ...[]byte) [16]byte {
	d := sha512.New()
	d.Write([]byte{suite, 0x02})
	for _, p := range points {
		d.Write(p)
	}
	d.Write([]byte{0x00})
	var c [16]byte
	copy(c[:], d.Sum(nil))
	return c
}

func scalarFromChallenge(c [16]byte) *edwards25519.Scalar {
	var b [32]byte
	copy(b[:], c[:])
	s, err := edwards25519.NewScalar().SetCanonicalBytes(b[:])
	if err != nil {
		panic("vrf: " + err.Error()) // unreachable: below 2^128 < ℓ
	}
	return s
}

// decodePoint is RFC 8032's decoding, which refuses non-canonical
// encodings (filippo.io/edwards25519 accepts them, so re-encode and
// compare).
func decodePoint(b []byte) (*edwards25519.Point, error) {
	p, err := new(edwards25519.Point).SetBytes(b)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(p.Bytes(), b) {
		return nil, errors.New("non-canonical point encoding")
	}
	return p, nil
}

func isSmallOrder(p *edwards25519.Point) bool {
	q := new(edwards25519.Point).MultByCofactor(p)
	return q.Equal(edwards25519.NewIdentityPoint()) == 1
}
