// Package kdf wraps the two key-derivation primitives of the Signal protocol,
// HMAC-SHA256 and HKDF-SHA256 (RFC 5869), in the fixed shapes the protocol
// uses them, without allocating: every output goes into a caller's buffer,
// and the SHA-256 states come from a pool.
//
// HMAC is RFC 2104 over crypto/sha256 written out (as crypto/hmac does it):
// a key is turned into its two keyed SHA-256 states once (the inner state
// after key⊕ipad, the outer after key⊕opad), saved with the digests'
// AppendBinary, and every MAC under that key restarts from them with
// UnmarshalBinary, so a keyed MAC of a short message costs two compressions
// instead of four and no allocation. HKDF is extract-then-expand on top of
// it; the all-zero salt's keyed state is computed once. The tests run the
// Wycheproof HMAC-SHA256 and HKDF-SHA256 vectors through these functions and
// compare them with crypto/hmac and crypto/hkdf on random inputs.
//
// Pooled states hold key material between uses only in the form of a blank
// SHA-256 state: every function returns its engine wiped.
package kdf

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding"
	"fmt"
	"hash"
	"sync"

	"github.com/skymsg/sky/protocol/internal/redact"
)

// Size is the output size of HMAC-SHA256.
const Size = sha256.Size

// MaxHKDF is the longest HKDF-SHA256 output, 255 blocks.
const MaxHKDF = 255 * Size

const (
	blockSize = sha256.BlockSize
	stateSize = 108 // a marshaled SHA-256 state (crypto/sha256's format)
)

// state is a marshaled SHA-256 state.
type state [stateSize]byte

// Keyed is an HMAC-SHA256 key ready for several messages: its inner and
// outer SHA-256 states. It holds secret material; Wipe clears it.
type Keyed struct {
	inner, outer state
}

// NewKeyed keys HMAC-SHA256 with key.
func NewKeyed(key []byte) Keyed {
	e := get()
	e.key(key)
	k := e.k
	put(e)
	return k
}

// Sum returns the MAC of data[0] || data[1] || ... under the key.
func (k *Keyed) Sum(data ...[]byte) [Size]byte {
	var out [Size]byte
	e := get()
	e.k = *k
	e.mac(&out, data...)
	put(e)
	return out
}

// Wipe clears the keyed states.
func (k *Keyed) Wipe() { *k = Keyed{} }

// Format redacts the keyed states under every fmt verb.
func (k Keyed) Format(f fmt.State, _ rune) { redact.Format(f, "kdf.Keyed") }

// HMACPair returns HMAC-SHA256(key, m1) and HMAC-SHA256(key, m2), keying
// HMAC once for both: a Double Ratchet chain step, which derives a message
// seed and the next chain key from one chain key.
func HMACPair(key, m1, m2 []byte) (mac1, mac2 [Size]byte) {
	e := get()
	e.key(key)
	e.mac(&mac1, m1)
	e.mac(&mac2, m2)
	put(e)
	return mac1, mac2
}

// HMACLong returns HMAC-SHA256(key, prefix || long). HMAC copies what it
// hashes through a buffer of its own, so that its callers' buffers can stay
// on their stacks; HMACLong hashes long where it lies, saving that copy for
// a long input (a message body), which therefore escapes to the heap.
func HMACLong(key, prefix, long []byte) [Size]byte {
	var out [Size]byte
	e := get()
	e.pads(key)
	e.write(e.in, prefix)
	e.in.Write(long)
	e.finish(&out)
	put(e)
	return out
}

// HMAC returns HMAC-SHA256(key, data[0] || data[1] || ...).
func HMAC(key []byte, data ...[]byte) [Size]byte {
	var out [Size]byte
	e := get()
	e.oneShot(&out, key, data...)
	put(e)
	return out
}

// engine is the working memory of a MAC: two SHA-256 states and buffers.
type engine struct {
	in, out hash.Hash
	// k holds the keyed states being saved or restored: the digests'
	// (Un)MarshalBinary are interface calls, and a caller's Keyed handed to
	// them would have to live on the heap.
	k   Keyed
	sum [Size]byte
	pad [blockSize]byte
	// buf stages what is hashed, so that callers' buffers are not handed to
	// an interface method (which would make every one of them escape to
	// the heap); used is how much of it holds data to clear.
	buf  [2048]byte
	used int
}

var engines = sync.Pool{New: func() any { return &engine{in: sha256.New(), out: sha256.New()} }}

// blank is a SHA-256 state with nothing written; restoring it clears what a
// digest holds.
var blank = func() (s state) {
	b, err := sha256.New().(encoding.BinaryAppender).AppendBinary(s[:0])
	if err != nil || len(b) != stateSize {
		panic("kdf: unexpected SHA-256 state encoding")
	}
	return s
}()

func get() *engine { return engines.Get().(*engine) }

func put(e *engine) {
	e.restore(e.in, &blank)
	e.restore(e.out, &blank)
	clear(e.sum[:])
	clear(e.pad[:])
	e.k.Wipe()
	clear(e.buf[:e.used])
	e.used = 0
	engines.Put(e)
}

func (e *engine) write(h hash.Hash, p []byte) {
	for len(p) > 0 {
		n := copy(e.buf[:], p)
		e.used = max(e.used, n)
		h.Write(e.buf[:n])
		p = p[n:]
	}
}

func (e *engine) save(h hash.Hash, s *state) {
	if _, err := h.(encoding.BinaryAppender).AppendBinary(s[:0]); err != nil {
		panic("kdf: " + err.Error()) // unreachable for SHA-256
	}
}

func (e *engine) restore(h hash.Hash, s *state) {
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(s[:]); err != nil {
		panic("kdf: " + err.Error()) // unreachable: states come from save
	}
}

// ipad and opad are RFC 2104's pads, and ipadOpad their XOR (which turns
// key⊕ipad into key⊕opad).
var (
	ipad     = bytes.Repeat([]byte{0x36}, blockSize)
	ipadOpad = bytes.Repeat([]byte{0x36 ^ 0x5c}, blockSize)
)

// pads starts both digests on key⊕ipad and key⊕opad (RFC 2104).
func (e *engine) pads(key []byte) {
	if len(key) > blockSize {
		e.in.Reset()
		e.write(e.in, key)
		e.in.Sum(e.pad[:0])
		clear(e.pad[Size:])
	} else {
		clear(e.pad[copy(e.pad[:], key):])
	}
	subtle.XORBytes(e.pad[:], e.pad[:], ipad)
	e.in.Reset()
	e.in.Write(e.pad[:])
	subtle.XORBytes(e.pad[:], e.pad[:], ipadOpad)
	e.out.Reset()
	e.out.Write(e.pad[:])
	clear(e.pad[:])
}

// key keys e.k with key.
func (e *engine) key(key []byte) {
	e.pads(key)
	e.save(e.in, &e.k.inner)
	e.save(e.out, &e.k.outer)
}

// finish completes a MAC whose inner digest has all its data.
func (e *engine) finish(out *[Size]byte) {
	e.in.Sum(e.sum[:0])
	e.out.Write(e.sum[:])
	e.out.Sum(e.sum[:0])
	*out = e.sum
}

// mac is the MAC of data under e.k.
func (e *engine) mac(out *[Size]byte, data ...[]byte) {
	e.restore(e.in, &e.k.inner)
	e.restore(e.out, &e.k.outer)
	for _, d := range data {
		e.write(e.in, d)
	}
	e.finish(out)
}

func (e *engine) oneShot(out *[Size]byte, key []byte, data ...[]byte) {
	e.pads(key)
	for _, d := range data {
		e.write(e.in, d)
	}
	e.finish(out)
}

// zeroSalt is HMAC keyed with the all-zero salt ("no salt"), which HKDF
// extraction uses again and again.
var zeroSalt = NewKeyed(make([]byte, Size))

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
	var b [64]byte // labels fit; longer ones are copied to the heap
	var in []byte
	if len(info) <= len(b) {
		in = b[:copy(b[:], info)]
	} else {
		in = []byte(info)
	}
	HKDFParts(out, salt, ikm, in)
}

// HKDFParts is HKDF with the info given in pieces, info[0] || info[1] || ...
func HKDFParts(out, salt, ikm []byte, info ...[]byte) {
	if len(out) > MaxHKDF {
		panic("kdf: HKDF output too long")
	}
	e := get()
	defer put(e)
	var prk [Size]byte
	if len(salt) == 0 || len(salt) == Size && isZero(salt) {
		e.k = zeroSalt
		e.mac(&prk, ikm)
	} else {
		e.oneShot(&prk, salt, ikm)
	}
	e.key(prk[:])
	clear(prk[:])
	var t [Size]byte
	for i := 1; len(out) > 0; i++ {
		e.restore(e.in, &e.k.inner)
		e.restore(e.out, &e.k.outer)
		if i > 1 {
			e.in.Write(e.sum[:]) // T(i-1), still in e.sum
		}
		for _, p := range info {
			e.write(e.in, p)
		}
		e.in.Write(counters[i : i+1])
		e.finish(&t)
		out = out[copy(out, t[:]):]
	}
	clear(t[:])
}

func isZero(b []byte) bool {
	var acc byte
	for _, x := range b {
		acc |= x
	}
	return acc == 0
}
