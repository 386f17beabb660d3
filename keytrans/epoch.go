package keytrans

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/skymsg/sky/keytrans/logtree"
	"github.com/skymsg/sky/keytrans/prefix"
)

// An Update sets one entry: the new leaf and the proof of its key in the
// tree just before (after the epoch's earlier updates).
type Update struct {
	Leaf  prefix.Leaf
	Proof *prefix.Proof
}

// An Epoch is what the directory changed in one epoch, as auditors replay
// it: its number (0 first), its time, the updates in order, and the prefix
// root they lead to.
type Epoch struct {
	Number     uint64
	TimeMillis uint64
	PrefixRoot [32]byte
	Updates    []Update
}

// Encode: number, time, prefix root, 4-byte count, then per update the
// leaf (prefix.LeafSize bytes), a 2-byte length and the proof.
func (e *Epoch) Encode() []byte {
	b := binary.BigEndian.AppendUint64(nil, e.Number)
	b = binary.BigEndian.AppendUint64(b, e.TimeMillis)
	b = append(b, e.PrefixRoot[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Updates)))
	for _, u := range e.Updates {
		b = prefix.AppendLeaf(b, &u.Leaf)
		b = appendVBytes(b, u.Proof.Encode())
	}
	return b
}

// minUpdateSize is the smallest encoded update (leaf, length, empty proof).
const minUpdateSize = prefix.LeafSize + 2 + 3

// DecodeEpoch reads what Encode wrote.
func DecodeEpoch(b []byte) (*Epoch, error) {
	r := &reader{b: b, what: "epoch"}
	e := &Epoch{Number: r.u64(), TimeMillis: r.u64()}
	r.fixed(e.PrefixRoot[:])
	n := r.u32()
	if r.err == nil && uint64(n) > uint64(len(r.b)/minUpdateSize) {
		r.fail("%d updates cannot fit in %d bytes", n, len(r.b))
	}
	for i := uint32(0); i < n && r.err == nil; i++ {
		l, err := prefix.DecodeLeaf(r.bytes(prefix.LeafSize))
		pb := r.vbytes(maxPrefixProof)
		if r.err != nil {
			break
		}
		if err != nil {
			r.fail("update %d: %v", i, err)
			break
		}
		p, err := prefix.DecodeProof(pb)
		if err != nil {
			r.fail("update %d: %v", i, err)
			break
		}
		e.Updates = append(e.Updates, Update{Leaf: *l, Proof: p})
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	return e, nil
}

// ErrBadEpoch says that an epoch breaks the directory's rules: it does not
// follow the last one, changes history, skips or repeats a version, or does
// not lead to the root it claims.
var ErrBadEpoch = errors.New("keytrans: epoch breaks the directory's rules")

func badEpoch(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadEpoch, fmt.Sprintf(format, args...))
}

// An Auditor follows the directory with nothing but the log's frontier,
// the prefix root and the last time: it replays every epoch and checks it
// (Apply), so that the heads it countersigns are the only ones an
// append-only, well-formed directory could have signed.
type Auditor struct {
	log        logtree.Frontier
	prefixRoot prefix.Hash
	time       uint64
}

// Apply checks e against the rules and advances the auditor to it: e is
// the next epoch, not earlier in time, each update proves its key's leaf
// before it and sets version 1 for a new entry or the old version plus one,
// each key changes at most once, and the updates lead to e.PrefixRoot.
func (a *Auditor) Apply(e *Epoch) error {
	if e.Number != a.log.Size() {
		return badEpoch("epoch %d where %d is next", e.Number, a.log.Size())
	}
	if e.Number > 0 && e.TimeMillis < a.time {
		return badEpoch("epoch %d is earlier than the one before", e.Number)
	}
	root := a.prefixRoot
	seen := make(map[prefix.Key]bool, len(e.Updates))
	for i, u := range e.Updates {
		if seen[u.Leaf.Key] {
			return badEpoch("epoch %d changes one entry twice", e.Number)
		}
		seen[u.Leaf.Key] = true
		old, err := prefix.Verify(root, u.Leaf.Key, u.Proof)
		if err != nil {
			return badEpoch("epoch %d update %d: %v", e.Number, i, err)
		}
		want := uint32(1)
		if old != nil {
			want = old.Version + 1
		}
		if u.Leaf.Version != want {
			return badEpoch("epoch %d update %d: version %d where %d is next", e.Number, i, u.Leaf.Version, want)
		}
		if root, err = prefix.Update(root, u.Proof, u.Leaf); err != nil {
			return badEpoch("epoch %d update %d: %v", e.Number, i, err)
		}
	}
	if root != e.PrefixRoot {
		return badEpoch("epoch %d's updates do not lead to its prefix root", e.Number)
	}
	a.log.Append(EpochLeaf(e.Number, e.TimeMillis, root))
	a.prefixRoot, a.time = root, e.TimeMillis
	return nil
}

// Head returns the head the directory must sign after the epochs applied.
func (a *Auditor) Head() Head {
	return Head{Size: a.log.Size(), TimeMillis: a.time, LogRoot: a.log.Root(), PrefixRoot: a.prefixRoot}
}

// State encodes the auditor's state: time, prefix root, log size, frontier.
func (a *Auditor) State() []byte {
	b := binary.BigEndian.AppendUint64(nil, a.time)
	b = append(b, a.prefixRoot[:]...)
	b = binary.BigEndian.AppendUint64(b, a.log.Size())
	for _, n := range a.log.Nodes() {
		b = append(b, n[:]...)
	}
	return b
}

// RestoreAuditor reads what State wrote.
func RestoreAuditor(b []byte) (*Auditor, error) {
	r := &reader{b: b, what: "auditor state"}
	a := &Auditor{time: r.u64()}
	r.fixed(a.prefixRoot[:])
	size := r.u64()
	var nodes []logtree.Hash
	for r.err == nil && len(r.b) > 0 && len(nodes) < 64 {
		var h logtree.Hash
		r.fixed(h[:])
		nodes = append(nodes, h)
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	f, err := logtree.NewFrontier(size, nodes)
	if err != nil {
		return nil, errors.Join(ErrMalformed, err)
	}
	a.log = *f
	return a, nil
}
