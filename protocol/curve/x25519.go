package curve

import circl "github.com/cloudflare/circl/dh/x25519"

// x25519 is X25519(scalar, u) of RFC 7748: the scalar clamped, the top bit
// of u ignored, u taken modulo p, the Montgomery ladder in constant time.
// It is cloudflare/circl's (with BMI2/ADX field arithmetic on amd64, about
// 15 % faster than crypto/ecdh's here). crypto/ecdh is not used for
// agreements because its private keys compute their public key when made,
// a second scalar multiplication for every key read from a stored session.
// The result may be all zeros (a low-order u); Agree refuses that.
func x25519(scalar, point *[32]byte) [32]byte {
	var out circl.Key
	circl.Shared(&out, (*circl.Key)(scalar), (*circl.Key)(point)) // false only for a low-order u
	return out
}
