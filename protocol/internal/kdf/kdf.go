// Package kdf wraps the two key-derivation primitives of the Signal protocol,
// HMAC-SHA256 and HKDF-SHA256 (RFC 5869), in the fixed shapes the protocol
// uses them, without allocating results: every output goes into a caller's
// buffer. HMAC is crypto/hmac over crypto/sha256; HKDF is RFC 5869's
// extract-then-expand written out on top of it (as crypto/hkdf does), so
// that one keyed HMAC serves all expansion blocks and the all-zero salt's
// keyed state is reused. The tests run the Wycheproof HMAC-SHA256 and
// HKDF-SHA256 vectors through these functions and compare them with
// crypto/hkdf on random inputs.
package kdf

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"
)

// Size is the output size of HMAC-SHA256.
const Size = sha256.Size

// MaxHKDF is the longest HKDF-SHA256 output, 255 blocks.
const MaxHKDF = 255 * Size

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

// Keyed is an HMAC-SHA256 key ready for several messages.
type Keyed struct {
	h    hash.Hash
	used bool
	out  [Size]byte // Sum's buffer, here so that it need not be allocated
}

// NewKeyed keys HMAC-SHA256 with key.
func NewKeyed(key []byte) *Keyed { return &Keyed{h: hmac.New(sha256.New, key)} }

// Sum returns the MAC of data[0] || data[1] || ... under the key.
func (k *Keyed) Sum(data ...[]byte) [Size]byte {
	if k.used {
		k.h.Reset()
	}
	k.used = true
	for _, d := range data {
		k.h.Write(d)
	}
	k.h.Sum(k.out[:0])
	out := k.out
	clear(k.out[:])
	return out
}

// zeroSalt holds HMACs keyed with the all-zero salt ("no salt"), which
// HKDF extraction uses again and again; Reset returns one to its keyed state.
var zeroSalt = sync.Pool{New: func() any { return hmac.New(sha256.New, make([]byte, Size)) }}

// counters[i] is the single byte i, for HKDF's block counter.
var counters = func() (c [256]byte) {
	for i := range c {
		c[i] = byte(i)
	}
	return c
}()

// HKDF fills out with HKDF-SHA256(salt, ikm, info). A nil or empty salt
// means "no salt", which RFC 5869 defines as 32 zero bytes. out may be at
// most MaxHKDF bytes long; longer is a programming error and panics.
func HKDF(out, salt, ikm []byte, info string) {
	HKDFParts(out, salt, ikm, []byte(info))
}

// HKDFParts is HKDF with the info given in pieces, info[0] || info[1] || ...
func HKDFParts(out, salt, ikm []byte, info ...[]byte) {
	if len(out) > MaxHKDF {
		panic("kdf: HKDF output too long")
	}
	buf := scratch.Get().(*hkdfScratch)
	defer scratch.Put(buf)
	prk, t := buf.prk[:], buf.t[:]
	if len(salt) == 0 || isZero(salt) && len(salt) == Size {
		h := zeroSalt.Get().(hash.Hash)
		h.Reset()
		h.Write(ikm)
		h.Sum(prk[:0])
		zeroSalt.Put(h)
	} else {
		h := hmac.New(sha256.New, salt)
		h.Write(ikm)
		h.Sum(prk[:0])
	}
	exp := hmac.New(sha256.New, prk)
	clear(prk)
	var prev []byte
	for i := 1; len(out) > 0; i++ {
		if i > 1 {
			exp.Reset()
		}
		exp.Write(prev)
		for _, p := range info {
			exp.Write(p)
		}
		exp.Write(counters[i : i+1])
		exp.Sum(t[:0])
		n := copy(out, t)
		out = out[n:]
		prev = t
	}
	clear(t)
}

// hkdfScratch holds HKDF's intermediate values; pooled so that they need
// not be allocated for every derivation. They are cleared after use.
type hkdfScratch struct{ prk, t [Size]byte }

var scratch = sync.Pool{New: func() any { return new(hkdfScratch) }}

func isZero(b []byte) bool {
	var acc byte
	for _, x := range b {
		acc |= x
	}
	return acc == 0
}
