package curve

import "filippo.io/edwards25519/field"

// x25519 is X25519(scalar, u) of RFC 7748: the Montgomery ladder in constant
// time over filippo.io/edwards25519's field arithmetic (the same code as
// crypto/ecdh's, BSD-licensed). crypto/ecdh is not used for agreements
// because its private keys compute their public key when made, a second
// scalar multiplication for every key read from a stored session. The
// scalar is clamped here; the top bit of u is ignored, as RFC 7748 says.
func x25519(scalar, point *[32]byte) [32]byte {
	e := *scalar
	clamp(&e)
	var x1, x2, z2, x3, z3, tmp0, tmp1 field.Element
	if _, err := x1.SetBytes(point[:]); err != nil {
		panic("curve: " + err.Error()) // unreachable: 32 bytes
	}
	x2.One()
	x3.Set(&x1)
	z3.One()
	swap := 0
	for pos := 254; pos >= 0; pos-- {
		b := int(e[pos/8]>>uint(pos&7)) & 1
		swap ^= b
		x2.Swap(&x3, swap)
		z2.Swap(&z3, swap)
		swap = b

		tmp0.Subtract(&x3, &z3)
		tmp1.Subtract(&x2, &z2)
		x2.Add(&x2, &z2)
		z2.Add(&x3, &z3)
		z3.Multiply(&tmp0, &x2)
		z2.Multiply(&z2, &tmp1)
		tmp0.Square(&tmp1)
		tmp1.Square(&x2)
		x3.Add(&z3, &z2)
		z2.Subtract(&z3, &z2)
		x2.Multiply(&tmp1, &tmp0)
		tmp1.Subtract(&tmp1, &tmp0)
		z2.Square(&z2)

		z3.Mult32(&tmp1, 121666)
		x3.Square(&x3)
		tmp0.Add(&tmp0, &z3)
		z3.Multiply(&x1, &z2)
		z2.Multiply(&tmp1, &tmp0)
	}
	x2.Swap(&x3, swap)
	z2.Swap(&z3, swap)
	z2.Invert(&z2)
	x2.Multiply(&x2, &z2)
	clear(e[:])
	return [32]byte(x2.Bytes())
}
