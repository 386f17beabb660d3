package envelope

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"sync"
)

// IndexSize is the length of a lookup hash.
const IndexSize = sha256.Size

// Index computes keyed lookup hashes (HMAC-SHA256) of identifiers, so a table
// can be searched by a contact's Sky ID without storing the ID. Each use names
// a domain, so the same identifier hashes differently in different tables. It
// is safe for concurrent use.
type Index struct {
	mu  sync.Mutex
	mac hash.Hash
}

// NewIndex returns an Index keyed by key. It keeps its own copy of the key.
func NewIndex(key *Key) *Index {
	return &Index{mac: hmac.New(sha256.New, key[:])}
}

// Sum returns the lookup hash of parts in domain. Parts are length-prefixed,
// so ("ab", "c") and ("a", "bc") differ.
func (x *Index) Sum(domain string, parts ...[]byte) []byte {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.mac.Reset()
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(domain)))
	x.mac.Write(n[:])
	x.mac.Write([]byte(domain))
	for _, p := range parts {
		binary.BigEndian.PutUint32(n[:], uint32(len(p)))
		x.mac.Write(n[:])
		x.mac.Write(p)
	}
	return x.mac.Sum(nil)
}

// String, GoString and Format keep the key inside an Index out of any output.
func (x *Index) String() string                { return "envelope.Index{redacted}" }
func (x *Index) GoString() string              { return x.String() }
func (x *Index) Format(f fmt.State, verb rune) { fmt.Fprint(f, x.String()) }
