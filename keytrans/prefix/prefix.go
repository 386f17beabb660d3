// Package prefix is the key directory's prefix tree: a binary trie over
// 256-bit keys (VRF outputs of account IDs) in which each leaf sits at the
// shallowest depth where no other key shares its path, with proofs that a
// key is present (and with which entry) or absent.
//
// Hashes: an empty subtree is 32 zero bytes; a leaf is SHA-256(0x02 ‖ key ‖
// version (4 bytes, big-endian) ‖ commitment); an inner node is
// SHA-256(0x03 ‖ left ‖ right). The root hash so determines every path,
// and walking a key's path from the root ends at exactly one leaf or empty
// subtree: that end, with the siblings along the way, is the proof.
//
// The package is pure: no I/O, no clock.
package prefix

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
)

// Hash is a node of the tree.
type Hash = [32]byte

// Key is where an entry sits: the first 32 bytes of its VRF output.
type Key = [32]byte

// MaxDepth is the deepest a leaf can be (two keys sharing 255 bits).
const MaxDepth = 256

// ErrProof says that a proof does not verify against the root.
var ErrProof = errors.New("prefix: proof does not verify")

// A Leaf is one entry: the version counts the values the entry has had (1
// for the first), the commitment hides the current value.
type Leaf struct {
	Key        Key
	Version    uint32
	Commitment [32]byte
}

// Hash returns the leaf's node hash.
func (l *Leaf) Hash() Hash {
	var b [1 + 32 + 4 + 32]byte
	b[0] = 0x02
	copy(b[1:], l.Key[:])
	binary.BigEndian.PutUint32(b[33:], l.Version)
	copy(b[37:], l.Commitment[:])
	return sha256.Sum256(b[:])
}

func innerHash(l, r Hash) Hash {
	var b [65]byte
	b[0] = 0x03
	copy(b[1:], l[:])
	copy(b[33:], r[:])
	return sha256.Sum256(b[:])
}

// bit returns bit i of k, most significant first.
func bit(k *Key, i int) int { return int(k[i/8]>>(7-i%8)) & 1 }

// A Proof shows where a key's path ends: Siblings from the root down (so
// its length is the depth), then the leaf found there, or nil for an empty
// subtree. The key is present when Terminal.Key is the key.
type Proof struct {
	Siblings []Hash
	Terminal *Leaf
}

// root computes the root the proof implies for key, having checked that a
// leaf found on the path shares the path's bits.
func (p *Proof) root(key *Key, terminal Hash) (Hash, error) {
	d := len(p.Siblings)
	if d > MaxDepth {
		return Hash{}, ErrProof
	}
	if p.Terminal != nil && p.Terminal.Key != *key {
		for i := range d {
			if bit(&p.Terminal.Key, i) != bit(key, i) {
				return Hash{}, ErrProof
			}
		}
	}
	h := terminal
	for i := d - 1; i >= 0; i-- {
		if bit(key, i) == 0 {
			h = innerHash(h, p.Siblings[i])
		} else {
			h = innerHash(p.Siblings[i], h)
		}
	}
	return h, nil
}

func (p *Proof) terminalHash() Hash {
	if p.Terminal == nil {
		return Hash{}
	}
	return p.Terminal.Hash()
}

// Verify checks the proof for key against root and returns the key's leaf,
// or nil if the key is absent.
func Verify(root Hash, key Key, p *Proof) (*Leaf, error) {
	got, err := p.root(&key, p.terminalHash())
	if err != nil || got != root {
		return nil, ErrProof
	}
	if p.Terminal != nil && p.Terminal.Key == key {
		l := *p.Terminal
		return &l, nil
	}
	return nil, nil
}

// Update returns the root after setting leaf in the tree whose root p
// verifies against (p being the proof of leaf.Key before the change). It
// is how an auditor follows the tree with nothing but its root.
func Update(root Hash, p *Proof, leaf Leaf) (Hash, error) {
	if _, err := Verify(root, leaf.Key, p); err != nil {
		return Hash{}, err
	}
	h := leaf.Hash()
	d := len(p.Siblings)
	if t := p.Terminal; t != nil && t.Key != leaf.Key {
		// The new leaf and the one found split where their keys part.
		c := d
		for bit(&t.Key, c) == bit(&leaf.Key, c) {
			c++
		}
		if bit(&leaf.Key, c) == 0 {
			h = innerHash(h, t.Hash())
		} else {
			h = innerHash(t.Hash(), h)
		}
		for i := c - 1; i >= d; i-- {
			if bit(&leaf.Key, i) == 0 {
				h = innerHash(h, Hash{})
			} else {
				h = innerHash(Hash{}, h)
			}
		}
	}
	return p.root(&leaf.Key, h)
}
