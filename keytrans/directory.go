package keytrans

import (
	"errors"
	"fmt"

	"github.com/skymsg/sky/keytrans/logtree"
	"github.com/skymsg/sky/keytrans/prefix"
)

// DefaultRetain is how many recent heads a Directory answers lookups at.
const DefaultRetain = 64

// A Directory is the directory's trees in memory: the prefix tree as of
// each recent epoch (the tree copies what it changes, so old heads cost
// only their changed paths) and the log of all epochs. The server keeps its
// epochs in its store and rebuilds a Directory from them (Replay). Not
// safe for concurrent use.
type Directory struct {
	// Retain is how many recent heads lookups may be asked at; 0 means
	// DefaultRetain.
	Retain int

	tree  prefix.Tree
	log   logtree.Tree
	head  Head
	snaps map[uint64]prefix.Tree
}

// Head returns the head after the last epoch (Size 0 before the first).
func (d *Directory) Head() Head { return d.head }

// Prepare makes the next epoch from leaves (whose versions the caller has
// set, see Get; each key at most once) at timeMillis, and the head it
// leads to, without changing d: apply it with Replay once it is stored.
func (d *Directory) Prepare(timeMillis uint64, leaves []prefix.Leaf) (*Epoch, Head) {
	t := d.tree
	e := &Epoch{Number: d.log.Size(), TimeMillis: max(timeMillis, d.head.TimeMillis)}
	for _, l := range leaves {
		e.Updates = append(e.Updates, Update{Leaf: l, Proof: t.Set(l)})
	}
	e.PrefixRoot = t.Root()
	f := d.log.Frontier(d.log.Size())
	f.Append(EpochLeaf(e.Number, e.TimeMillis, e.PrefixRoot))
	return e, Head{Size: f.Size(), TimeMillis: e.TimeMillis, LogRoot: f.Root(), PrefixRoot: e.PrefixRoot}
}

// Publish prepares the next epoch and applies it at once.
func (d *Directory) Publish(timeMillis uint64, leaves []prefix.Leaf) (*Epoch, Head) {
	e, h := d.Prepare(timeMillis, leaves)
	if err := d.Replay(e); err != nil {
		panic("keytrans: a prepared epoch does not replay: " + err.Error())
	}
	return e, h
}

// Replay applies an epoch: the next one, whose updates lead to its prefix
// root. It trusts the caller for the rules (an auditor checks them) but
// not for the arithmetic.
func (d *Directory) Replay(e *Epoch) error {
	if e.Number != d.log.Size() {
		return badEpoch("stored epoch %d where %d is next", e.Number, d.log.Size())
	}
	t := d.tree
	for _, u := range e.Updates {
		t.Set(u.Leaf)
	}
	if t.Root() != e.PrefixRoot {
		return badEpoch("stored epoch %d does not lead to its prefix root", e.Number)
	}
	d.tree = t
	d.log.Append(EpochLeaf(e.Number, e.TimeMillis, e.PrefixRoot))
	n := d.log.Size()
	d.head = Head{Size: n, TimeMillis: e.TimeMillis, LogRoot: d.log.Root(n), PrefixRoot: e.PrefixRoot}
	if d.snaps == nil {
		d.snaps = map[uint64]prefix.Tree{}
	}
	d.snaps[n] = t
	retain := d.Retain
	if retain <= 0 {
		retain = DefaultRetain
	}
	if n > uint64(retain) {
		delete(d.snaps, n-uint64(retain))
	}
	return nil
}

// ErrNoSuchHead says that a lookup was asked at a head the directory does
// not have, or no longer keeps.
var ErrNoSuchHead = errors.New("keytrans: no such head (or too old to answer lookups at)")

// Get returns the proof for key at the current head; its Terminal is the
// entry when Terminal.Key is key.
func (d *Directory) Get(key prefix.Key) *prefix.Proof { return d.tree.Get(key) }

// GetAt is Get at the head of size n, one of the last Retain heads.
func (d *Directory) GetAt(n uint64, key prefix.Key) (*prefix.Proof, error) {
	t, ok := d.snaps[n]
	if !ok {
		return nil, fmt.Errorf("%w: size %d", ErrNoSuchHead, n)
	}
	return t.Get(key), nil
}

// Len returns the number of entries.
func (d *Directory) Len() int { return d.tree.Len() }

// Consistency returns the proof that the head of size m is a prefix of the
// head of size n.
func (d *Directory) Consistency(m, n uint64) ([]logtree.Hash, error) {
	if m == 0 || m > n || n > d.log.Size() {
		return nil, fmt.Errorf("%w: sizes %d and %d", ErrNoSuchHead, m, n)
	}
	return d.log.ConsistencyProof(m, n)
}

// LogRoot returns the log root of the head of size n (n ≤ Size).
func (d *Directory) LogRoot(n uint64) logtree.Hash { return d.log.Root(n) }
