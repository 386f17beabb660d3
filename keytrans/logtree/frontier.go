package logtree

import (
	"errors"
	"math/bits"
)

// A Frontier is the right edge of a tree: the roots of its complete
// subtrees, largest first (one per set bit of the size). It is all an
// auditor keeps of the log to compute each next root itself.
type Frontier struct {
	size  uint64
	nodes []Hash
}

// NewFrontier rebuilds a frontier from its size and nodes (as Nodes
// returned them).
func NewFrontier(size uint64, nodes []Hash) (*Frontier, error) {
	if bits.OnesCount64(size) != len(nodes) {
		return nil, errors.New("logtree: frontier has the wrong number of nodes for its size")
	}
	return &Frontier{size: size, nodes: append([]Hash(nil), nodes...)}, nil
}

// Size returns the number of leaves appended.
func (f *Frontier) Size() uint64 { return f.size }

// Nodes returns the frontier's nodes, largest subtree first.
func (f *Frontier) Nodes() []Hash { return append([]Hash(nil), f.nodes...) }

// Append adds a leaf hash.
func (f *Frontier) Append(leaf Hash) {
	h := leaf
	for s := f.size; s&1 == 1; s >>= 1 {
		h = nodeHash(f.nodes[len(f.nodes)-1], h)
		f.nodes = f.nodes[:len(f.nodes)-1]
	}
	f.nodes = append(f.nodes, h)
	f.size++
}

// Root returns the root of the tree so far.
func (f *Frontier) Root() Hash {
	if f.size == 0 {
		return EmptyRoot
	}
	h := f.nodes[len(f.nodes)-1]
	for i := len(f.nodes) - 2; i >= 0; i-- {
		h = nodeHash(f.nodes[i], h)
	}
	return h
}

// Frontier returns the frontier of the tree's first n leaves (n ≤ Size).
func (t *Tree) Frontier(n uint64) *Frontier {
	f := &Frontier{size: n}
	var lo uint64
	for lvl := bits.Len64(n) - 1; lvl >= 0; lvl-- {
		if n&(1<<lvl) != 0 {
			f.nodes = append(f.nodes, t.levels[lvl][lo>>lvl])
			lo += 1 << lvl
		}
	}
	return f
}
