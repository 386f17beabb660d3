package keytrans

import (
	"errors"

	"github.com/skymsg/sky/keytrans/logtree"
	"github.com/skymsg/sky/keytrans/prefix"
)

// A Directory is the directory's trees in memory: the prefix tree as of the
// last epoch and the log of all epochs. The server keeps its epochs in its
// store and rebuilds a Directory from them (Replay). Not safe for
// concurrent use.
type Directory struct {
	tree prefix.Tree
	log  logtree.Tree
	head Head
}

// Head returns the head after the last epoch (Size 0 before the first).
func (d *Directory) Head() Head { return d.head }

// Publish makes the next epoch from leaves (whose versions the caller has
// set, see Get) at timeMillis, applies it, and returns it with its head.
func (d *Directory) Publish(timeMillis uint64, leaves []prefix.Leaf) (*Epoch, Head) {
	e := &Epoch{Number: d.log.Size(), TimeMillis: max(timeMillis, d.head.TimeMillis)}
	for _, l := range leaves {
		e.Updates = append(e.Updates, Update{Leaf: l, Proof: d.tree.Set(l)})
	}
	e.PrefixRoot = d.tree.Root()
	d.appendEpoch(e)
	return e, d.head
}

func (d *Directory) appendEpoch(e *Epoch) {
	d.log.Append(EpochLeaf(e.Number, e.TimeMillis, e.PrefixRoot))
	d.head = Head{Size: d.log.Size(), TimeMillis: e.TimeMillis, LogRoot: d.log.Root(d.log.Size()), PrefixRoot: e.PrefixRoot}
}

// Replay applies a stored epoch: the next one, whose updates lead to its
// prefix root. It trusts the store for the rules (an auditor checks them)
// but not for the arithmetic.
func (d *Directory) Replay(e *Epoch) error {
	if e.Number != d.log.Size() {
		return badEpoch("stored epoch %d where %d is next", e.Number, d.log.Size())
	}
	for _, u := range e.Updates {
		d.tree.Set(u.Leaf)
	}
	if d.tree.Root() != e.PrefixRoot {
		return badEpoch("stored epoch %d does not lead to its prefix root", e.Number)
	}
	d.appendEpoch(e)
	return nil
}

// Get returns the proof for key at the current head; its Terminal is the
// entry when Terminal.Key is key.
func (d *Directory) Get(key prefix.Key) *prefix.Proof { return d.tree.Get(key) }

// Len returns the number of entries.
func (d *Directory) Len() int { return d.tree.Len() }

// Consistency returns the proof that the head of size m is a prefix of the
// head of size n.
func (d *Directory) Consistency(m, n uint64) ([]logtree.Hash, error) {
	if m == 0 || m > n || n > d.log.Size() {
		return nil, errors.New("keytrans: no such pair of heads")
	}
	return d.log.ConsistencyProof(m, n)
}

// LogRoot returns the log root of the head of size n (n ≤ Size).
func (d *Directory) LogRoot(n uint64) logtree.Hash { return d.log.Root(n) }
