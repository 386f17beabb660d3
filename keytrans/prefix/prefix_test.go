package prefix

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"
)

// reference computes the root of a set of leaves straight from the
// definition, as the model the tree is checked against.
func reference(leaves []*Leaf, depth int) Hash {
	switch len(leaves) {
	case 0:
		return Hash{}
	case 1:
		return leaves[0].Hash()
	}
	var side [2][]*Leaf
	for _, l := range leaves {
		b := bit(&l.Key, depth)
		side[b] = append(side[b], l)
	}
	return innerHash(reference(side[0], depth+1), reference(side[1], depth+1))
}

func key(i int) Key { return sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i))) }

func leaf(i int, version uint32) Leaf {
	l := Leaf{Key: key(i), Version: version}
	l.Commitment = sha256.Sum256(binary.BigEndian.AppendUint32(l.Key[:], version))
	return l
}

// nearKeys are keys that share long prefixes: k, k with the last bit
// flipped, k with bit 200 flipped, so leaves reach depth 256.
func nearKeys() []Leaf {
	base := leaf(1000, 1)
	a, b := base, base
	a.Key[31] ^= 1
	b.Key[25] ^= 0x80
	return []Leaf{base, a, b}
}

func TestTreeMatchesReferenceAndUpdate(t *testing.T) {
	tree := &Tree{}
	current := map[Key]*Leaf{}
	var ops []Leaf
	for i := range 300 {
		ops = append(ops, leaf(i, 1))
	}
	for i := 0; i < 300; i += 7 {
		ops = append(ops, leaf(i, 2))
	}
	ops = append(ops, nearKeys()...)
	for _, l := range ops {
		old := tree.Root()
		p := tree.Set(l)
		lc := l
		current[l.Key] = &lc
		want, err := Update(old, p, l)
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if tree.Root() != want {
			t.Fatalf("Update's root differs from the tree's")
		}
	}
	var all []*Leaf
	for _, l := range current {
		all = append(all, l)
	}
	if tree.Root() != reference(all, 0) || tree.Len() != len(all) {
		t.Fatalf("root or length differs from the reference (%d leaves, want %d)", tree.Len(), len(all))
	}
	for k, l := range current {
		got, err := Verify(tree.Root(), k, tree.Get(k))
		if err != nil || got == nil || *got != *l {
			t.Fatalf("lookup of a present key: %v, %v", got, err)
		}
	}
	for i := 5000; i < 5100; i++ {
		got, err := Verify(tree.Root(), key(i), tree.Get(key(i)))
		if err != nil || got != nil {
			t.Fatalf("lookup of an absent key: %v, %v", got, err)
		}
	}
	if d := len(tree.Get(nearKeys()[1].Key).Siblings); d != 256 {
		t.Fatalf("near keys at depth %d, want 256", d)
	}
}

func TestSnapshots(t *testing.T) {
	tree := &Tree{}
	for i := range 100 {
		tree.Set(leaf(i, 1))
	}
	snap := *tree
	root := snap.Root()
	for i := range 200 {
		tree.Set(leaf(i, 2))
	}
	if snap.Root() != root || snap.Len() != 100 {
		t.Fatal("a snapshot changed when the tree did")
	}
	for i := range 100 {
		got, err := Verify(root, key(i), snap.Get(key(i)))
		if err != nil || got == nil || got.Version != 1 {
			t.Fatalf("snapshot lookup %d: %v, %v", i, got, err)
		}
	}
}

func TestEmptyTree(t *testing.T) {
	tree := &Tree{}
	p := tree.Get(key(1))
	if got, err := Verify(Hash{}, key(1), p); err != nil || got != nil {
		t.Fatalf("empty tree: %v, %v", got, err)
	}
	root, err := Update(Hash{}, p, leaf(1, 1))
	l := leaf(1, 1)
	if err != nil || root != l.Hash() {
		t.Fatalf("first leaf: %v", err)
	}
}

// tampered returns each single change to a proof.
func tampered(p *Proof, other Key) map[string]*Proof {
	out := map[string]*Proof{}
	clone := func() *Proof {
		q := &Proof{Siblings: append([]Hash(nil), p.Siblings...)}
		if p.Terminal != nil {
			l := *p.Terminal
			q.Terminal = &l
		}
		return q
	}
	for i := range p.Siblings {
		q := clone()
		q.Siblings[i][i%32] ^= 0x10
		out[fmt.Sprintf("sibling %d flipped", i)] = q
		q = clone()
		q.Siblings = append(q.Siblings[:i], q.Siblings[i+1:]...)
		out[fmt.Sprintf("sibling %d dropped", i)] = q
	}
	q := clone()
	q.Siblings = append(q.Siblings, Hash{})
	out["empty sibling added"] = q
	q = clone()
	q.Siblings = append(q.Siblings, Hash{7})
	out["sibling added"] = q
	if p.Terminal != nil {
		q = clone()
		q.Terminal.Version++
		out["version changed"] = q
		q = clone()
		q.Terminal.Commitment[3] ^= 1
		out["commitment changed"] = q
		q = clone()
		q.Terminal.Key[31] ^= 1
		out["leaf key changed"] = q
		q = clone()
		q.Terminal = nil
		out["leaf replaced by empty"] = q
	} else {
		q = clone()
		q.Terminal = &Leaf{Key: other, Version: 1}
		out["empty replaced by a leaf"] = q
	}
	return out
}

func TestTamperedProofs(t *testing.T) {
	tree := &Tree{}
	for i := range 64 {
		tree.Set(leaf(i, 1))
	}
	root := tree.Root()
	for _, k := range []Key{key(3), key(40), key(9999), key(12345)} {
		p := tree.Get(k)
		for name, q := range tampered(p, key(3)) {
			if _, err := Verify(root, k, q); err == nil {
				t.Errorf("key %x: %s accepted", k[:4], name)
			}
			if _, err := Update(root, q, leaf(77, 1)); err == nil {
				t.Errorf("key %x: Update took %s", k[:4], name)
			}
		}
	}
	// A leaf off the key's path cannot prove its absence.
	absent := key(9999)
	p := tree.Get(absent)
	far := leaf(5, 1)
	for bit(&far.Key, 0) == bit(&absent, 0) {
		far.Key[0] ^= 0x80
	}
	q := &Proof{Siblings: p.Siblings, Terminal: &far}
	if _, err := Verify(root, absent, q); err == nil {
		t.Error("a leaf off the path proved absence")
	}
}

func TestProofEncoding(t *testing.T) {
	tree := &Tree{}
	for i := range 1000 {
		tree.Set(leaf(i, 1))
	}
	for _, l := range nearKeys() {
		tree.Set(l)
	}
	keys := []Key{key(1), key(999), key(123456), nearKeys()[1].Key}
	for _, k := range keys {
		p := tree.Get(k)
		enc := p.Encode()
		q, err := DecodeProof(enc)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !bytes.Equal(q.Encode(), enc) {
			t.Fatal("round trip changed the encoding")
		}
		a, err1 := Verify(tree.Root(), k, p)
		b, err2 := Verify(tree.Root(), k, q)
		if err1 != nil || err2 != nil || (a == nil) != (b == nil) {
			t.Fatal("decoded proof answers differently")
		}
		for _, bad := range [][]byte{enc[:len(enc)-1], append(bytes.Clone(enc), 0), enc[:1]} {
			if _, err := DecodeProof(bad); err == nil {
				t.Errorf("decoded a proof with %d bytes of %d", len(bad), len(enc))
			}
		}
	}
	for _, bad := range [][]byte{
		{0x01, 0x01, 0},       // depth 257
		{0x00, 0x01, 0x40, 0}, // bitmap bit beyond the depth
		append([]byte{0x00, 0x01, 0x80}, append(make([]byte, 32), 0)...), // a zero sibling marked non-empty
		{0x00, 0x00, 2}, // unknown end
	} {
		if _, err := DecodeProof(bad); err == nil {
			t.Errorf("decoded %x", bad)
		}
	}
}

func FuzzDecodeProof(f *testing.F) {
	tree := &Tree{}
	for i := range 50 {
		tree.Set(leaf(i, 1))
	}
	f.Add(tree.Get(key(3)).Encode())
	f.Add(tree.Get(key(300)).Encode())
	root := tree.Root()
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeProof(b)
		if err != nil {
			return
		}
		if !bytes.Equal(p.Encode(), b) {
			t.Fatal("accepted a non-canonical encoding")
		}
		// Whatever the proof, it cannot show key 3 other than it is.
		if l, err := Verify(root, key(3), p); err == nil && (l == nil || *l != leaf(3, 1)) {
			t.Fatal("forged answer for key 3")
		}
	})
}
