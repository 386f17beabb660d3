// Package blobcrypt encrypts and decrypts attachments: a file becomes a blob
// of padded ciphertext under a fresh random key, described by the key, the
// SHA-256 digest of the whole blob and two sizes (real and padded). It is
// pure: no network, no disk of its own, and it never holds more than one
// chunk of a file in memory.
//
// The construction is STREAM (Hoang, Reyhanitabar, Rogaway, Vizár), as age
// uses it: the plaintext, padded with zeros to wire.BlobPadded(size), is cut
// into 64 KiB chunks, each sealed with AES-256-GCM under a key derived by
// HKDF-SHA256 from the file key, with a 12-byte nonce made of an 11-byte
// big-endian chunk counter and a final-chunk flag. So chunks cannot be
// reordered, dropped, duplicated or cut off at a chunk boundary without
// failing authentication. The digest of the whole blob travels in the
// pointer beside the key, and Open checks it before decrypting anything.
package blobcrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/skymsg/sky/wire"
)

// KeySize is the size of a file key; DigestSize that of a blob digest.
const (
	KeySize    = 32
	DigestSize = sha256.Size
	nonceSize  = 12
	chunkInfo  = "sky/v1 attachment chunks"
)

// Errors; test with errors.Is.
var (
	// ErrDigest: the blob is not the one the pointer describes (swapped,
	// substituted or corrupted). Nothing of it was decrypted.
	ErrDigest = errors.New("the attachment's digest does not match: it was changed or swapped on the way; nothing of it was decrypted")
	// ErrTruncated: the blob ended early.
	ErrTruncated = errors.New("the attachment is truncated")
	// ErrTooLong: the blob is longer than its pointer announced.
	ErrTooLong = errors.New("the attachment is longer than announced")
	// ErrTampered: a chunk failed authentication, or its padding is not
	// zero.
	ErrTampered = errors.New("the attachment was tampered with: a chunk does not authenticate")
	// ErrTooLarge: a file over wire.MaxBlobPadded bytes.
	ErrTooLarge = errors.New("the file is too large to attach")
	// ErrSizes: real and padded sizes that do not belong together.
	ErrSizes = errors.New("the attachment's sizes are inconsistent")
)

// Key is a file key: random, used for one file only.
type Key [KeySize]byte

// NewKey returns a fresh random key.
func NewKey() Key {
	var k Key
	rand.Read(k[:]) // never fails (crypto/rand panics instead)
	return k
}

// String, GoString and Format keep the key out of logs and errors.
func (Key) String() string               { return "blobcrypt.Key{redacted}" }
func (Key) GoString() string             { return "blobcrypt.Key{redacted}" }
func (Key) Format(f fmt.State, _ rune)   { fmt.Fprint(f, "blobcrypt.Key{redacted}") }
func (k *Key) destroy()                  { clear(k[:]) }
func (k Key) aead() (cipher.AEAD, error) { return newAEAD(k) }

func newAEAD(k Key) (cipher.AEAD, error) {
	ck, err := hkdf.Key(sha256.New, k[:], nil, chunkInfo, 32)
	if err != nil {
		return nil, err
	}
	defer clear(ck)
	b, err := aes.NewCipher(ck)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// nonce returns chunk i's nonce: an 11-byte big-endian counter and the
// final-chunk flag.
func nonce(buf *[nonceSize]byte, i uint64, final bool) []byte {
	clear(buf[:])
	for j := 10; j >= 3; j-- {
		buf[j] = byte(i)
		i >>= 8
	}
	if final {
		buf[11] = 1
	}
	return buf[:]
}

// Sum is what encrypting a file yields besides the blob: what the pointer
// must carry, with the key, to find and check it.
type Sum struct {
	Size   int64            // the file's real size
	Padded int64            // wire.BlobPadded(Size)
	Digest [DigestSize]byte // SHA-256 of the whole blob
}

// Len is the blob's length.
func (s Sum) Len() int64 { return wire.BlobLen(s.Padded) }

// checkSizes reports whether size and padded belong together.
func checkSizes(size, padded int64) error {
	if size < 0 || padded != wire.BlobPadded(size) || padded == 0 {
		return fmt.Errorf("%w: %d bytes padded to %d", ErrSizes, size, padded)
	}
	return nil
}
