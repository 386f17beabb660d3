package curve

import (
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// SignatureSize is the size of an XEdDSA signature: R (32) || s (32), with
// the sign of the signer's Edwards public key in the top bit of s.
const SignatureSize = 64

// signPrefix is the hash prefix of XEdDSA's nonce derivation: 0xFE then 31
// bytes of 0xFF (the encoding of 2^256 - 2, which keeps it apart from any
// Ed25519 nonce hash).
var signPrefix = [32]byte{0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}

// Sign returns an XEdDSA signature of the concatenation of msg made with p,
// exactly as libsignal makes it: the Edwards public key A = a·B is used as
// is (not negated to a fixed sign, unlike the XEdDSA paper) and its sign bit
// travels in bit 255 of the signature. 64 random bytes from crypto/rand go
// into the nonce, so two signatures of one message differ.
func (p PrivateKey) Sign(msg ...[]byte) [SignatureSize]byte {
	var z [64]byte
	rand.Read(z[:])
	return p.signWithRandom(z, msg...)
}

func (p PrivateKey) signWithRandom(z [64]byte, msg ...[]byte) [SignatureSize]byte {
	a, err := edwards25519.NewScalar().SetBytesWithClamping(p.k[:])
	if err != nil {
		panic("curve: " + err.Error()) // unreachable: the input is 32 bytes
	}
	bigA := new(edwards25519.Point).ScalarBaseMult(a).Bytes()
	signBit := bigA[31] & 0x80

	h := sha512.New()
	h.Write(signPrefix[:])
	h.Write(p.k[:])
	for _, m := range msg {
		h.Write(m)
	}
	h.Write(z[:])
	var digest [64]byte
	r, err := edwards25519.NewScalar().SetUniformBytes(h.Sum(digest[:0]))
	if err != nil {
		panic("curve: " + err.Error())
	}
	bigR := new(edwards25519.Point).ScalarBaseMult(r).Bytes()

	k := challenge(bigR, bigA, msg)
	s := edwards25519.NewScalar().MultiplyAdd(k, a, r)

	var sig [SignatureSize]byte
	copy(sig[:32], bigR)
	copy(sig[32:], s.Bytes())
	sig[63] = sig[63]&0x7F | signBit
	return sig
}

// challenge returns SHA-512(R || A || msg) reduced mod the group order.
func challenge(bigR, bigA []byte, msg [][]byte) *edwards25519.Scalar {
	h := sha512.New()
	h.Write(bigR)
	h.Write(bigA)
	for _, m := range msg {
		h.Write(m)
	}
	var digest [64]byte
	k, err := edwards25519.NewScalar().SetUniformBytes(h.Sum(digest[:0]))
	if err != nil {
		panic("curve: " + err.Error())
	}
	return k
}

// Verify reports whether sig is a valid XEdDSA signature by k of the
// concatenation of msg, checked exactly as libsignal checks it: the Edwards
// key is recovered from u with the sign bit carried in sig, the top three bits
// of s (after removing that sign bit) must be zero, and s is then used
// reduced mod the group order. A signature of any length other than 64 is
// invalid.
func (k PublicKey) Verify(sig []byte, msg ...[]byte) bool {
	if len(sig) != SignatureSize {
		return false
	}
	bigA, ok := edwardsFromMontgomery(k.u, sig[63]>>7)
	if !ok {
		return false
	}
	var sBytes [64]byte
	copy(sBytes[:32], sig[32:])
	sBytes[31] &= 0x7F
	if sBytes[31]&0xE0 != 0 {
		return false
	}
	s, err := edwards25519.NewScalar().SetUniformBytes(sBytes[:])
	if err != nil {
		return false
	}
	h := challenge(sig[:32], bigA.Bytes(), msg)
	minusA := new(edwards25519.Point).Negate(bigA)
	check := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(h, minusA, s)
	return subtle.ConstantTimeCompare(check.Bytes(), sig[:32]) == 1
}

// edwardsFromMontgomery maps a Montgomery u-coordinate to the Edwards point
// with y = (u-1)/(u+1) and the given sign of x. Like curve25519-dalek's
// to_edwards it ignores bit 255 of u, accepts non-canonical u, and fails for
// u = -1 and for u on the twist.
func edwardsFromMontgomery(u [32]byte, sign byte) (*edwards25519.Point, bool) {
	fu, err := new(field.Element).SetBytes(u[:])
	if err != nil {
		return nil, false
	}
	one := new(field.Element).One()
	den := new(field.Element).Add(fu, one)
	if den.Equal(new(field.Element).Zero()) == 1 {
		return nil, false
	}
	num := new(field.Element).Subtract(fu, one)
	y := new(field.Element).Multiply(num, den.Invert(den))
	yb := y.Bytes()
	yb[31] |= (sign & 1) << 7
	p, err := new(edwards25519.Point).SetBytes(yb)
	if err != nil {
		return nil, false
	}
	return p, true
}

// IsCanonical reports whether k is a key libsignal accepts as an incoming
// base key: its u-coordinate is below 2^255 - 19 with bit 255 clear, and it
// maps to an Edwards point in the prime-order subgroup (no torsion
// component, not on the twist).
func (k PublicKey) IsCanonical() bool {
	if !uInRange(k.u) {
		return false
	}
	p, ok := edwardsFromMontgomery(k.u, 0)
	if !ok {
		return false
	}
	return torsionFree(p)
}

// uInRange reports whether u, read little-endian, is below 2^255 - 19.
func uInRange(u [32]byte) bool {
	if u[31]&0x80 != 0 {
		return false
	}
	if u[31] != 0x7F {
		return true
	}
	for _, b := range u[1:31] {
		if b != 0xFF {
			return true
		}
	}
	return u[0] < 0xED
}

// orderMinusOne is ℓ - 1, the largest canonical scalar, little-endian.
var orderMinusOne = func() *edwards25519.Scalar {
	b := [32]byte{0xec, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}
	s, err := edwards25519.NewScalar().SetCanonicalBytes(b[:])
	if err != nil {
		panic(err)
	}
	return s
}()

// torsionFree reports whether [ℓ]p is the identity, computed as
// [ℓ-1]p + p since scalars are reduced mod ℓ. p is public, so the
// variable-time multiplication is fine.
func torsionFree(p *edwards25519.Point) bool {
	q := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(orderMinusOne, p, edwards25519.NewScalar())
	q.Add(q, p)
	return q.Equal(edwards25519.NewIdentityPoint()) == 1
}
