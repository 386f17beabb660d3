// Package logtree is the key directory's append-only log: a Merkle tree as
// RFC 9162 (Certificate Transparency 2.0) defines it, with inclusion and
// consistency proofs. Each leaf is one epoch of the directory, so a
// consistency proof between two signed tree heads shows that the later one
// keeps every epoch of the earlier one unchanged.
//
// The package is pure: no I/O, no clock.
package logtree

import (
	"crypto/sha256"
	"errors"
	"math/bits"
)

// Hash is a node of the tree.
type Hash = [32]byte

// MaxProofLen bounds the hashes in any proof (trees of up to 2^63 leaves).
const MaxProofLen = 64

// ErrProof says that a proof does not match the claimed roots or sizes.
var ErrProof = errors.New("logtree: proof does not verify")

// LeafHash is RFC 9162's hash of a leaf: SHA-256(0x00 ‖ data).
func LeafHash(data []byte) Hash {
	h := sha256.New()
	h.Write([]byte{0x00})
	h.Write(data)
	var out Hash
	h.Sum(out[:0])
	return out
}

// nodeHash is RFC 9162's interior node: SHA-256(0x01 ‖ left ‖ right).
func nodeHash(l, r Hash) Hash {
	var b [65]byte
	b[0] = 0x01
	copy(b[1:], l[:])
	copy(b[33:], r[:])
	return sha256.Sum256(b[:])
}

// EmptyRoot is the root of the tree with no leaves: SHA-256 of nothing.
var EmptyRoot = sha256.Sum256(nil)

// split is the largest power of two smaller than n (n ≥ 2).
func split(n uint64) uint64 { return 1 << (bits.Len64(n-1) - 1) }

// A Tree holds every leaf hash and every complete subtree, so it answers
// roots and proofs for any earlier size in O(log² n) hashes.
type Tree struct {
	// levels[h][i] is the hash of leaves [i·2^h, (i+1)·2^h).
	levels [][]Hash
}

// Size returns the number of leaves.
func (t *Tree) Size() uint64 {
	if len(t.levels) == 0 {
		return 0
	}
	return uint64(len(t.levels[0]))
}

// Append adds a leaf given its hash (see LeafHash).
func (t *Tree) Append(leaf Hash) {
	h := leaf
	for lvl := 0; ; lvl++ {
		if lvl == len(t.levels) {
			t.levels = append(t.levels, nil)
		}
		t.levels[lvl] = append(t.levels[lvl], h)
		n := len(t.levels[lvl])
		if n%2 == 1 {
			return
		}
		h = nodeHash(t.levels[lvl][n-2], h)
	}
}

// Leaf returns the hash of leaf i.
func (t *Tree) Leaf(i uint64) Hash { return t.levels[0][i] }

// Root returns the root of the first n leaves (n ≤ Size).
func (t *Tree) Root(n uint64) Hash {
	if n == 0 {
		return EmptyRoot
	}
	return t.hash(0, n)
}

// hash is MTH of leaves [lo, hi); lo is aligned to the subtree as RFC 9162
// splits it.
func (t *Tree) hash(lo, hi uint64) Hash {
	n := hi - lo
	if n&(n-1) == 0 {
		lvl := bits.TrailingZeros64(n)
		return t.levels[lvl][lo>>lvl]
	}
	k := split(n)
	return nodeHash(t.hash(lo, lo+k), t.hash(lo+k, hi))
}

// InclusionProof returns the audit path of leaf i in the tree of the first
// n leaves (RFC 9162 section 2.1.3.1).
func (t *Tree) InclusionProof(i, n uint64) ([]Hash, error) {
	if i >= n || n > t.Size() {
		return nil, errors.New("logtree: leaf or size outside the tree")
	}
	return t.path(i, 0, n), nil
}

func (t *Tree) path(m, lo, hi uint64) []Hash {
	n := hi - lo
	if n == 1 {
		return nil
	}
	k := split(n)
	if m < k {
		return append(t.path(m, lo, lo+k), t.hash(lo+k, hi))
	}
	return append(t.path(m-k, lo+k, hi), t.hash(lo, lo+k))
}

// ConsistencyProof returns the proof that the first m leaves are a prefix
// of the first n (RFC 9162 section 2.1.4.1); empty when m is 0 or m == n.
func (t *Tree) ConsistencyProof(m, n uint64) ([]Hash, error) {
	if m > n || n > t.Size() {
		return nil, errors.New("logtree: sizes outside the tree")
	}
	if m == 0 || m == n {
		return nil, nil
	}
	return t.subproof(m, 0, n, true), nil
}

func (t *Tree) subproof(m, lo, hi uint64, whole bool) []Hash {
	n := hi - lo
	if m == n {
		if whole {
			return nil
		}
		return []Hash{t.hash(lo, hi)}
	}
	k := split(n)
	if m <= k {
		return append(t.subproof(m, lo, lo+k, whole), t.hash(lo+k, hi))
	}
	return append(t.subproof(m-k, lo+k, hi, false), t.hash(lo, lo+k))
}

// VerifyInclusion checks that leaf (a leaf hash) is leaf i of the tree of
// n leaves with the given root (RFC 9162 section 2.1.3.2).
func VerifyInclusion(i, n uint64, leaf Hash, proof []Hash, root Hash) error {
	if i >= n || len(proof) > MaxProofLen {
		return ErrProof
	}
	fn, sn := i, n-1
	r := leaf
	for _, p := range proof {
		if sn == 0 {
			return ErrProof
		}
		if fn&1 == 1 || fn == sn {
			r = nodeHash(p, r)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = nodeHash(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 || r != root {
		return ErrProof
	}
	return nil
}

// VerifyConsistency checks that the tree of m leaves with root rootM is a
// prefix of the tree of n leaves with root rootN (RFC 9162 section
// 2.1.4.2). A tree of 0 leaves is a prefix of any tree.
func VerifyConsistency(m, n uint64, rootM, rootN Hash, proof []Hash) error {
	switch {
	case m > n || len(proof) > MaxProofLen:
		return ErrProof
	case m == 0:
		if len(proof) != 0 || rootM != EmptyRoot {
			return ErrProof
		}
		return nil
	case m == n:
		if len(proof) != 0 || rootM != rootN {
			return ErrProof
		}
		return nil
	case len(proof) == 0:
		return ErrProof
	}
	if m&(m-1) == 0 {
		proof = append([]Hash{rootM}, proof...)
	}
	fn, sn := m-1, n-1
	for fn&1 == 1 {
		fn >>= 1
		sn >>= 1
	}
	fr, sr := proof[0], proof[0]
	for _, c := range proof[1:] {
		if sn == 0 {
			return ErrProof
		}
		if fn&1 == 1 || fn == sn {
			fr = nodeHash(c, fr)
			sr = nodeHash(c, sr)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			sr = nodeHash(sr, c)
		}
		fn >>= 1
		sn >>= 1
	}
	if fr != rootM || sr != rootN || sn != 0 {
		return ErrProof
	}
	return nil
}
