// Package envelope seals the values of Sky's encrypted client store.
//
// Every value the store writes to disk is sealed with XChaCha20-Poly1305 under
// a 32-byte key, with a fresh random 24-byte nonce, and with associated data
// that names the value's place: its table, its column and its row. A value
// copied into another row, column or table therefore fails to open, so rows
// cannot be swapped by someone who edits the database file.
//
// Lookups by identifier (a contact's Sky ID, a session address, a message ID)
// use keyed hashes from an [Index], so the database file does not show whom
// the user talks to.
//
// The package is pure: no files, no clock, no global state beyond
// crypto/rand.
package envelope

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// Version is the first byte of every sealed value. It lets a later format
// coexist with this one.
const Version byte = 1

const (
	nonceSize = chacha20poly1305.NonceSizeX
	tagSize   = chacha20poly1305.Overhead

	// Overhead is how many bytes Seal adds to a plaintext.
	Overhead = 1 + nonceSize + tagSize
)

// Errors returned by Open. Each says what failed; the store wraps them into
// its own error that also says what to do.
var (
	ErrTruncated = errors.New("sealed value is shorter than its header and tag")
	ErrVersion   = errors.New("sealed value has an unknown format version")
	ErrAuth      = errors.New("sealed value failed authentication (wrong key, or the value was altered or moved)")
)

// Sealer seals and opens values under one key. It is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for key. The Sealer keeps its own copy of the
// key; the caller may zero key afterwards.
func NewSealer(key *Key) *Sealer {
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		// Only a wrong key length fails, and Key has the right one.
		panic("envelope: " + err.Error())
	}
	return &Sealer{aead: aead}
}

// Seal encrypts plaintext bound to ad and returns version || nonce ||
// ciphertext || tag.
func (s *Sealer) Seal(ad, plaintext []byte) []byte {
	out := make([]byte, 1+nonceSize, Overhead+len(plaintext))
	out[0] = Version
	if _, err := rand.Read(out[1:]); err != nil {
		panic("envelope: crypto/rand failed: " + err.Error())
	}
	return s.aead.Seal(out, out[1:1+nonceSize], plaintext, ad)
}

// Open checks and decrypts a value made by Seal with the same ad. It returns
// ErrTruncated, ErrVersion or ErrAuth, never a partial plaintext.
func (s *Sealer) Open(ad, sealed []byte) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, ErrTruncated
	}
	if sealed[0] != Version {
		return nil, ErrVersion
	}
	nonce, ct := sealed[1:1+nonceSize], sealed[1+nonceSize:]
	pt, err := s.aead.Open(nil, nonce, ct, ad)
	if err != nil {
		return nil, ErrAuth
	}
	return pt, nil
}

// String, GoString and Format keep the key inside a Sealer out of any output.
func (s *Sealer) String() string                { return "envelope.Sealer{redacted}" }
func (s *Sealer) GoString() string              { return s.String() }
func (s *Sealer) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }

// AD builds associated data that names a value's place: a fixed label, the
// table, the column and the row key, each length-prefixed so that no two
// places share an encoding.
func AD(table, column string, row []byte) []byte {
	ad := make([]byte, 0, 32+len(table)+len(column)+len(row))
	ad = append(ad, "sky store value v1"...)
	ad = appendPrefixed(ad, []byte(table))
	ad = appendPrefixed(ad, []byte(column))
	return appendPrefixed(ad, row)
}

// RowID encodes an integer row identifier for AD.
func RowID(id int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(id))
}

func appendPrefixed(b, field []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(field)))
	return append(b, field...)
}
