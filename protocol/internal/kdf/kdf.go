// Package kdf wraps the two key-derivation primitives of the Signal protocol,
// HMAC-SHA256 and HKDF-SHA256 (RFC 5869), in the fixed shapes the protocol
// uses them. The work is done by crypto/hmac and crypto/hkdf; the tests run the
// Wycheproof vectors through these wrappers.
package kdf

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
)

// Size is the output size of HMAC-SHA256.
const Size = sha256.Size

// HMAC returns HMAC-SHA256(key, data[0] || data[1] || ...).
func HMAC(key []byte, data ...[]byte) [Size]byte {
	m := hmac.New(sha256.New, key)
	for _, d := range data {
		m.Write(d)
	}
	var out [Size]byte
	m.Sum(out[:0])
	return out
}

// HKDF fills out with HKDF-SHA256(salt, ikm, info). A nil or empty salt means
// "no salt", which RFC 5869 defines as 32 zero bytes. out may be at most
// 255*32 bytes long.
func HKDF(out, salt, ikm []byte, info string) {
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		panic("kdf: " + err.Error()) // unreachable: Extract fails only in FIPS-only mode for short keys
	}
	okm, err := hkdf.Expand(sha256.New, prk, info, len(out))
	if err != nil {
		panic("kdf: HKDF output too long") // the protocol asks for at most 96 bytes
	}
	copy(out, okm)
}
