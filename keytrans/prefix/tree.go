package prefix

// A Tree is the whole prefix tree in memory, as the directory keeps it.
// Set never changes a node: it copies the path it changes, so a copy of a
// Tree (a plain assignment) is a snapshot that later Sets leave intact and
// that may be read concurrently with them. One Tree value must not be Set
// from two goroutines at once.
type Tree struct {
	root *node
	n    int
}

type node struct {
	hash  Hash
	child [2]*node
	leaf  *Leaf // non-nil for a leaf
}

func (n *node) rehash() {
	if n.leaf != nil {
		n.hash = n.leaf.Hash()
		return
	}
	n.hash = innerHash(hashOf(n.child[0]), hashOf(n.child[1]))
}

func hashOf(n *node) Hash {
	if n == nil {
		return Hash{}
	}
	return n.hash
}

// Len returns the number of leaves.
func (t *Tree) Len() int { return t.n }

// Root returns the root hash (32 zero bytes for an empty tree).
func (t *Tree) Root() Hash { return hashOf(t.root) }

// Get returns the proof for key, whose Terminal is the key's leaf when it
// is present.
func (t *Tree) Get(key Key) *Proof {
	p := &Proof{}
	n := t.root
	for d := 0; n != nil && n.leaf == nil; d++ {
		b := bit(&key, d)
		p.Siblings = append(p.Siblings, hashOf(n.child[1-b]))
		n = n.child[b]
	}
	if n != nil {
		l := *n.leaf
		p.Terminal = &l
	}
	return p
}

// Set puts leaf in the tree, replacing any leaf with its key, and returns
// the proof of its key from before the change (what Update needs).
func (t *Tree) Set(leaf Leaf) *Proof {
	p := t.Get(leaf.Key)
	if p.Terminal == nil || p.Terminal.Key != leaf.Key {
		t.n++
	}
	t.root = insert(t.root, &leaf, 0)
	return p
}

func insert(n *node, l *Leaf, depth int) *node {
	if n == nil {
		nn := &node{leaf: l}
		nn.rehash()
		return nn
	}
	if n.leaf != nil {
		nn := &node{leaf: l}
		nn.rehash()
		if n.leaf.Key == l.Key {
			return nn
		}
		return join(n, nn, depth)
	}
	c := *n
	b := bit(&l.Key, depth)
	c.child[b] = insert(n.child[b], l, depth+1)
	c.rehash()
	return &c
}

// join makes the subtree at depth holding two leaves with different keys.
func join(a, b *node, depth int) *node {
	in := &node{}
	ba, bb := bit(&a.leaf.Key, depth), bit(&b.leaf.Key, depth)
	if ba == bb {
		in.child[ba] = join(a, b, depth+1)
	} else {
		in.child[ba], in.child[bb] = a, b
	}
	in.rehash()
	return in
}
