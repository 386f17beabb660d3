package group

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/skymsg/sky/protocol/curve"
)

// Judging signed changes. ApplySigned checks a change's proof before the
// rules of Apply judge its state, and adds what signatures make possible:
//
//   - A signed group accepts only signed changes of the same creation (the
//     genesis digests agree); anything else is a rival copy (ErrRival).
//   - Position: a change carries the versions before it on its author's
//     branch (Change.Ancestry: hash-linked to its signed head, each also
//     checked against its signer's admin key at that point). If that branch
//     goes on from the member's head, the change is taken (however many
//     versions it skips: they were withheld or lost). If it parts from the
//     member's branch at one of the member's recent versions (MaxRecent),
//     the two versions right after the parting decide by precedence (a
//     version that removes admins first, so a removed admin's concurrent
//     changes lose to the removal; then the longer-standing signer; else
//     the greater digest), and the winner's whole branch stands. Either
//     way its admin history must hold every admin change of the member's
//     made before the point it goes on from (else ErrBadSignature: it
//     leaves out, say, its signer's removal).
//   - A change the member cannot place must have an admin history that
//     extends the member's (its author may be an admin the member has not
//     heard of yet), or is an older part of it whose author is still an
//     admin with the same key (a removed admin's change: ErrBadSignature);
//     histories that part are refused (ErrFork). Then today's rule holds:
//     a newer version wins, the same version by precedence of the two
//     heads, an older one is refused (ErrStale). Replays are refused
//     (ErrDuplicate, ErrStale).
//   - A group not signed yet (made before Sky signed versions) keeps
//     today's rules until one of its admins migrates it: a new signed
//     group with the same members, whose genesis names the old ID (From);
//     the client moves to it when an admin of the old group delivers it
//     (Moves). A new group, and any invitation, must be signed
//     (ErrUnsigned).

// ApplySigned judges change ch for the member self whose record is r (nil:
// the group is unknown). peer is who delivered it (its 1:1 session); the
// author of a signed change is its signer, whoever delivered it. It returns
// the new record, leaving r as it was, or why ch is refused.
func ApplySigned(r *Record, ch Change, peer, self string) (*Record, Outcome, error) {
	if err := ch.Check(); err != nil {
		return nil, Outcome{}, err
	}
	if ch.Proof == nil {
		if checkSignatures && (r == nil || r.Proof != nil || !r.State.IsMember(self)) {
			return nil, Outcome{}, ErrUnsigned
		}
		ch.Author = peer
		return Apply(r, ch, self)
	}
	var known *Proof
	if r != nil {
		known = r.Proof
	}
	a, err := ch.Proof.verify(&ch.State, known)
	if err != nil {
		return nil, Outcome{}, err
	}
	head := ch.Proof.Head()
	ch.Author = head.Signer
	if checkSignatures {
		if err := ch.checkBranch(a); err != nil {
			return nil, Outcome{}, err
		}
	}
	var next *Record
	var out Outcome
	switch {
	case r == nil:
		next, out, err = Apply(nil, ch, self)
	case r.Proof == nil:
		// A signed change never carries an unsigned group's ID: a
		// migrated group has a new one (Signer.Migrate).
		return nil, Outcome{}, fmt.Errorf("%w (a signed change under the ID of an unsigned group)", ErrRival)
	default:
		next, out, err = applyChained(r, ch, a, self)
	}
	if err != nil {
		return nil, out, err
	}
	next.Proof = ch.Proof
	next.Recent = nextRecent(r, ch.branch())
	return next, out, nil
}

// applyChained judges a signed change ch, whose proof's authority is a,
// against the member's signed record r.
func applyChained(r *Record, ch Change, a *authority, self string) (*Record, Outcome, error) {
	if !checkSignatures {
		return apply(r, ch, self, true)
	}
	if ch.Proof.Chain[0].Digest() != r.Proof.Chain[0].Digest() {
		return nil, Outcome{}, ErrRival
	}
	mine := adminChain(r.Proof)
	if next, out, placed, err := position(r, ch, mine, a, self); placed {
		return next, out, err
	}
	// Not placed on the member's recent branch: its admin history must
	// extend the member's, or be part of it and signed by someone still
	// an admin.
	switch relation(mine.chain, a.chain) {
	case older:
		if k, ok := mine.key(ch.Author); !ok || k != a.keys[ch.Author] {
			return nil, Outcome{}, fmt.Errorf("%w (%s is no longer an admin)", ErrBadSignature, ch.Author)
		}
	case diverged:
		return nil, Outcome{}, ErrFork
	}
	head, mh := ch.Proof.Head(), r.head()
	switch {
	case head.Number > mh.Number:
		return apply(r, ch, self, true)
	case head.Number < mh.Number:
		return nil, Outcome{}, ErrStale
	case !rankOf(head, a).precedes(rankOf(mh, mine)):
		return nil, Outcome{}, ErrConflict
	}
	return replace(r, ch, self)
}

// position places ch's branch on the member's recent versions, if it can
// (placed): it goes on from the member's head, or parts from the member's
// branch at a recent version, where the two versions right after decide by
// precedence; a replay of the member's own branch is refused.
func position(r *Record, ch Change, mine, a *authority, self string) (next *Record, out Outcome, placed bool, err error) {
	at := map[[32]byte]int{}
	for i := range r.Recent {
		at[r.Recent[i].Digest()] = i
	}
	last := len(r.Recent) - 1
	head := ch.Proof.Head()
	if i, ok := at[head.Digest()]; ok {
		if i == last {
			return nil, out, true, ErrDuplicate
		}
		return nil, out, true, ErrStale // a replay of the member's own branch
	}
	for _, t := range ch.branch() {
		if _, ok := at[t.Digest()]; ok {
			continue // on the member's branch too
		}
		i, ok := at[t.Prev]
		switch {
		case !ok:
			continue // older than the member's recent versions, or unknown
		case !sharesAdmins(mine, a, t.Number):
			err = fmt.Errorf("%w (it leaves out admin changes made before it: %s may no longer be an admin)", ErrBadSignature, ch.Author)
		case i == last:
			next, out, err = apply(r, ch, self, true) // goes on from the member's head
		case rankOf(t, a).precedes(rankOf(&r.Recent[i+1], mine)):
			next, out, err = replace(r, ch, self)
		default:
			err = ErrConflict
		}
		return next, out, true, err
	}
	return nil, out, false, nil
}

// sharesAdmins reports whether a branch's admin history (a) holds every
// admin-changing version of the member's (mine) made before number n:
// those the branch goes on from.
func sharesAdmins(mine, a *authority, n uint64) bool {
	k := 0
	for k < len(mine.versions) && mine.versions[k].Number < n {
		k++
	}
	return len(a.chain) >= k && slices.Equal(a.chain[:k], mine.chain[:k])
}

// checkBranch verifies the signatures of the versions before ch's head
// (the head's own is the proof's), each by an admin of a as it stood
// before it.
func (ch *Change) checkBranch(a *authority) error {
	b := ch.branch()
	for _, v := range b[:len(b)-1] {
		if slices.Contains(a.chain, v.Digest()) {
			continue // the genesis or an admin change: checked with the proof
		}
		if v.Genesis() {
			return fmt.Errorf("%w (another creation before it)", ErrBadSignature)
		}
		i := 0
		for i < len(a.versions) && a.versions[i].Number < v.Number {
			i++
		}
		k, ok := a.keyBefore(v.Signer, i)
		d := v.Digest()
		if !ok || !k.Verify(v.Sig[:], sigLabel, d[:]) {
			return fmt.Errorf("%w (a version before it)", ErrBadSignature)
		}
	}
	return nil
}

// branch returns ch's ancestry that links to its head, then the head,
// oldest first.
func (ch *Change) branch() []*Version {
	head := ch.Proof.Head()
	out := []*Version{head}
	want := head.Prev
	for i := len(ch.Ancestry) - 1; i >= 0 && len(out) < MaxRecent; i-- {
		v := &ch.Ancestry[i]
		if v.Digest() != want || v.ID != head.ID {
			break
		}
		out, want = append(out, v), v.Prev
	}
	slices.Reverse(out)
	return out
}

// precedence settles two versions made at once, alike on every member
// whatever order they come in: it is a total order of each version's own
// properties. A version that removes admins goes first (so a removed
// admin's concurrent change loses to its removal); between two such, the
// longer-standing signer's (then the lower Sky ID), so a digest cannot be
// ground to win a contest over admin rights; else the greater digest.
type precedence struct {
	removes bool
	rank    int
	signer  string
	digest  [32]byte
}

// rankOf returns v's precedence, its signer's rank taken in a (the
// authority of v's branch) as it stood before v.
func rankOf(v *Version, a *authority) precedence {
	i := 0
	for i < len(a.versions) && a.versions[i].Number < v.Number {
		i++
	}
	return precedence{removes: len(v.Removed) > 0, rank: a.rankBefore(v.Signer, i), signer: v.Signer, digest: v.Digest()}
}

func (p precedence) precedes(q precedence) bool {
	switch {
	case p.removes != q.removes:
		return p.removes
	case p.removes && p.rank != q.rank:
		return p.rank < q.rank
	case p.removes && p.signer != q.signer:
		return p.signer < q.signer
	}
	return bytes.Compare(p.digest[:], q.digest[:]) > 0
}

// keyBefore is an admin's key in the admin set before the version at
// index i.
func (a *authority) keyBefore(id string, i int) (curve.PublicKey, bool) {
	var key curve.PublicKey
	ok := false
	for _, v := range a.versions[:i] {
		for _, k := range v.Added {
			if k.ID == id {
				key, ok = k.Key, true
			}
		}
		if slices.Contains(v.Removed, id) {
			ok = false
		}
	}
	return key, ok
}

// rankBefore is an admin's rank in the admin set before the version at
// index i (-1: none).
func (a *authority) rankBefore(id string, i int) int {
	rank := -1
	for j, v := range a.versions[:i] {
		if slices.ContainsFunc(v.Added, func(k AdminKey) bool { return k.ID == id }) {
			rank = j
		}
		if slices.Contains(v.Removed, id) {
			rank = -1
		}
	}
	if rank < 0 {
		return len(a.versions) // not an admin there: the most junior
	}
	return rank
}

// replace makes ch the member's state in place of r's, whatever their
// version numbers: apply judges it as a newer change (its number raised
// past r's only for that), and the record then keeps ch's own number and
// the state r's replaced (to judge what comes next at the same version).
func replace(r *Record, ch Change, self string) (*Record, Outcome, error) {
	jump := ch
	jump.Version = r.State.Version + 1
	next, out, err := apply(r, jump, self, true)
	if err != nil {
		return nil, out, err
	}
	next.State.Version = ch.Version
	next.Digest = ch.Digest()
	next.Base = nil
	if r.Base != nil && ch.Version == r.State.Version {
		base := r.Base.clone()
		next.Base = &base
	}
	return next, out, nil
}

// head returns the version that made r's state.
func (r *Record) head() *Version {
	if len(r.Recent) > 0 {
		return &r.Recent[len(r.Recent)-1]
	}
	return r.Proof.Head()
}

// nextRecent returns the recent versions after a change whose branch
// (oldest first, ending with its head) is accepted: the member's own up to
// where the branch goes on from them, then the branch.
func nextRecent(r *Record, branch []*Version) []Version {
	var out []Version
	if r != nil && r.Proof != nil {
		for _, v := range r.Recent {
			if v.Digest() == branch[0].Prev {
				out = append(out, v)
				break
			}
			out = append(out, v)
		}
		if len(out) == 0 || out[len(out)-1].Digest() != branch[0].Prev {
			out = nil // nothing links: what came between is unknown
		}
	}
	for _, v := range branch {
		if !slices.ContainsFunc(out, func(w Version) bool { return w.Digest() == v.Digest() }) {
			out = append(out, *v)
		}
	}
	if len(out) > MaxRecent {
		out = out[len(out)-MaxRecent:]
	}
	return out
}

// adminChain replays the admin set of a proof the member accepted before
// (its signatures were checked then).
func adminChain(p *Proof) *authority {
	a := newAuthority()
	for i := range p.Chain {
		if v := &p.Chain[i]; v.changesAdmins() {
			a.add(v, v.Digest())
		}
	}
	return a
}

const (
	extends = iota // the change's admin history is the member's, or goes on from it
	older          // the change's admin history is a strict beginning of the member's
	diverged
)

// relation compares the member's admin history with a change's.
func relation(mine, theirs [][32]byte) int {
	n := min(len(mine), len(theirs))
	if !slices.Equal(mine[:n], theirs[:n]) {
		return diverged
	}
	if len(theirs) >= len(mine) {
		return extends
	}
	return older
}

// Seal signs the user's own change ch of r (nil: ch creates the group, and
// its ID becomes the one the new group key commits to; an unsigned r: ch
// makes the signed group that replaces it, under a new ID) with sg,
// setting ch.Proof and ch.Author.
func (r *Record) Seal(ch *Change, sg *Signer) error {
	var p *Proof
	var err error
	switch {
	case r == nil:
		p, err = sg.Genesis(&ch.State)
	case r.Proof == nil:
		p, err = sg.Migrate(&ch.State)
	default:
		p, err = sg.Next(r.Proof, &r.State, &ch.State)
	}
	if err != nil {
		return err
	}
	ch.Proof, ch.Author = p, sg.ID
	if r != nil && r.Proof != nil {
		ch.Ancestry = slices.Clone(r.Recent)
	}
	return nil
}

// Moves reports whether ch (accepted as a new group) replaces the unsigned
// group old, which self is in and peer, who delivered it, is an admin of:
// then the client leaves old for the new group.
func Moves(old *Record, ch Change, peer, self string) bool {
	return ch.Proof != nil && old != nil && old.Proof == nil && ch.Proof.Chain[0].From == old.State.ID &&
		old.Member(self) && old.State.IsAdmin(peer) && ch.Proof.Head().Signer == peer
}

// lostTo reports whether the change that made r lost to the one that made
// next, made at once from the same version: for a signed group, next's
// branch holds the version r's change was made from but not r's change.
func (r *Record) lostTo(next *Record) bool {
	if r.Proof == nil || next.Proof == nil {
		return r.State.Version == next.State.Version
	}
	h := r.head()
	has := func(d [32]byte) bool {
		return slices.ContainsFunc(next.Recent, func(v Version) bool { return v.Digest() == d })
	}
	return !has(h.Digest()) && has(h.Prev)
}
