package logtree

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/skymsg/sky/internal/testvec"
)

// mth is RFC 9162's definition, written directly, as the reference.
func mth(leaves []Hash) Hash {
	switch len(leaves) {
	case 0:
		return EmptyRoot
	case 1:
		return leaves[0]
	}
	k := split(uint64(len(leaves)))
	return nodeHash(mth(leaves[:k]), mth(leaves[k:]))
}

func testLeaves(n int) []Hash {
	out := make([]Hash, n)
	for i := range out {
		out[i] = LeafHash(binary.BigEndian.AppendUint64(nil, uint64(i)))
	}
	return out
}

func build(leaves []Hash) *Tree {
	t := &Tree{}
	for _, l := range leaves {
		t.Append(l)
	}
	return t
}

func TestCTVectors(t *testing.T) {
	var v struct {
		Leaves []testvec.Hex
		Roots  []testvec.Hex
	}
	testvec.Load(t, "testdata/ct-roots.json", &v)
	tree := &Tree{}
	f := &Frontier{}
	for i, l := range v.Leaves {
		tree.Append(LeafHash(l))
		f.Append(LeafHash(l))
		if r := tree.Root(uint64(i + 1)); !bytes.Equal(r[:], v.Roots[i]) {
			t.Errorf("root of %d leaves %x, want %x", i+1, r, v.Roots[i])
		}
		if r := f.Root(); !bytes.Equal(r[:], v.Roots[i]) {
			t.Errorf("frontier root of %d leaves %x, want %x", i+1, r, v.Roots[i])
		}
	}
}

func TestRootsAndProofs(t *testing.T) {
	const max = 40
	leaves := testLeaves(max)
	tree := build(leaves)
	f := &Frontier{}
	for n := uint64(1); n <= max; n++ {
		f.Append(leaves[n-1])
		root := mth(leaves[:n])
		if tf := tree.Frontier(n); tf.Root() != root || tf.Size() != n {
			t.Fatalf("size %d: the tree's frontier has another root", n)
		}
		if tree.Root(n) != root || f.Root() != root {
			t.Fatalf("size %d: roots disagree with the reference", n)
		}
		for i := range n {
			p, err := tree.InclusionProof(i, n)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyInclusion(i, n, leaves[i], p, root); err != nil {
				t.Fatalf("inclusion %d/%d: %v", i, n, err)
			}
		}
		for m := uint64(0); m <= n; m++ {
			p, err := tree.ConsistencyProof(m, n)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyConsistency(m, n, tree.Root(m), root, p); err != nil {
				t.Fatalf("consistency %d→%d: %v", m, n, err)
			}
		}
	}
	g, err := NewFrontier(f.Size(), f.Nodes())
	if err != nil || g.Root() != f.Root() {
		t.Fatalf("frontier does not survive Nodes/NewFrontier: %v", err)
	}
	if _, err := NewFrontier(7, f.Nodes()); err == nil {
		t.Fatal("frontier with the wrong node count accepted")
	}
}

// tamperings returns every single-change variant of a proof: each hash
// with one bit flipped, each hash dropped, one hash added, two swapped.
func tamperings(p []Hash) map[string][]Hash {
	out := map[string][]Hash{}
	for i := range p {
		q := append([]Hash(nil), p...)
		q[i][i%32] ^= 1
		out[fmt.Sprintf("flip %d", i)] = q
		out[fmt.Sprintf("drop %d", i)] = append(append([]Hash(nil), p[:i]...), p[i+1:]...)
	}
	out["extra"] = append(append([]Hash(nil), p...), Hash{1})
	if len(p) > 1 {
		q := append([]Hash(nil), p...)
		q[0], q[1] = q[1], q[0]
		out["swap"] = q
	}
	return out
}

func TestTamperedInclusion(t *testing.T) {
	leaves := testLeaves(13)
	tree := build(leaves)
	n := uint64(13)
	root := tree.Root(n)
	for i := range n {
		p, _ := tree.InclusionProof(i, n)
		for name, q := range tamperings(p) {
			if VerifyInclusion(i, n, leaves[i], q, root) == nil {
				t.Errorf("leaf %d: %s accepted", i, name)
			}
		}
		other := (i + 1) % n
		for _, c := range []struct {
			name     string
			i, n     uint64
			leaf     Hash
			root     Hash
			wantFail bool
		}{
			{"other index", other, n, leaves[i], root, true},
			{"index beyond size", n, n, leaves[i], root, true},
			{"other leaf", i, n, leaves[other], root, true},
			{"other root", i, n, leaves[i], tree.Root(n - 1), true},
		} {
			if VerifyInclusion(c.i, c.n, c.leaf, p, c.root) == nil {
				t.Errorf("leaf %d: %s accepted", i, c.name)
			}
		}
	}
}

func TestTamperedConsistency(t *testing.T) {
	leaves := testLeaves(21)
	tree := build(leaves)
	n := uint64(21)
	for m := uint64(1); m < n; m++ {
		p, _ := tree.ConsistencyProof(m, n)
		for name, q := range tamperings(p) {
			if VerifyConsistency(m, n, tree.Root(m), tree.Root(n), q) == nil {
				t.Errorf("%d→%d: %s accepted", m, n, name)
			}
		}
		// A rewritten history: the same sizes, another leaf m-1.
		forged := append([]Hash(nil), leaves...)
		forged[m-1] = LeafHash([]byte("rewritten"))
		ft := build(forged)
		if VerifyConsistency(m, n, tree.Root(m), ft.Root(n), p) == nil {
			t.Errorf("%d→%d: rewritten history accepted", m, n)
		}
		fp, _ := ft.ConsistencyProof(m, n)
		if VerifyConsistency(m, n, tree.Root(m), ft.Root(n), fp) == nil {
			t.Errorf("%d→%d: rewritten history with its own proof accepted", m, n)
		}
		if VerifyConsistency(m+1, n, tree.Root(m), tree.Root(n), p) == nil && m+1 < n {
			t.Errorf("%d→%d: proof accepted for another first size", m, n)
		}
		if VerifyConsistency(n, m, tree.Root(n), tree.Root(m), p) == nil {
			t.Errorf("%d→%d: shrinking accepted", m, n)
		}
	}
	if VerifyConsistency(3, 3, tree.Root(3), tree.Root(4), nil) == nil {
		t.Error("equal sizes with different roots accepted")
	}
	if VerifyConsistency(0, 3, Hash{1}, tree.Root(3), nil) == nil {
		t.Error("empty tree with a non-empty root accepted")
	}
}

func TestProofEncoding(t *testing.T) {
	tree := build(testLeaves(100))
	p, _ := tree.InclusionProof(37, 100)
	got, err := DecodeProof(EncodeProof(p))
	if err != nil || len(got) != len(p) {
		t.Fatalf("round trip: %v", err)
	}
	enc := EncodeProof(p)
	for _, bad := range [][]byte{nil, enc[:len(enc)-1], append(enc, 0), {65}, append([]byte{65}, make([]byte, 65*32)...)} {
		if _, err := DecodeProof(bad); err == nil {
			t.Errorf("decoded %d malformed bytes", len(bad))
		}
	}
}

func FuzzDecodeProof(f *testing.F) {
	tree := build(testLeaves(9))
	p, _ := tree.ConsistencyProof(3, 9)
	f.Add(EncodeProof(p))
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeProof(b)
		if err != nil {
			return
		}
		if !bytes.Equal(EncodeProof(p), b) {
			t.Fatal("decode accepted a non-canonical encoding")
		}
		// A decoded proof never verifies a forged extension.
		if VerifyConsistency(3, 9, tree.Root(3), LeafHash(b), p) == nil {
			t.Fatal("forged consistency accepted")
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	tree := &Tree{}
	h := LeafHash([]byte("x"))
	for b.Loop() {
		tree.Append(h)
	}
}

func BenchmarkConsistencyProof(b *testing.B) {
	tree := build(testLeaves(1 << 16))
	for b.Loop() {
		tree.ConsistencyProof(40000, 1<<16-3)
	}
}
