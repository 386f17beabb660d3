package group

import (
	"fmt"
	"slices"

	"github.com/skymsg/sky/protocol/curve"
)

// Judging signed changes. ApplySigned checks a change's proof before the
// rules of Apply judge its state, and adds what signatures make possible:
//
//   - A signed group accepts only signed changes of the same creation (the
//     genesis digests agree); anything else is a rival copy (ErrRival).
//   - The change's admin history must extend the member's own (its author
//     may then be an admin the member has not heard of yet), or be an
//     older part of it whose author is still an admin with the same key;
//     a change by a removed admin is refused (ErrBadSignature). Two
//     versions that change the admins at once from the same version are
//     judged like any concurrent change.
//   - A change from a version older than the member's head that takes the
//     admin right from every author of the versions since that point wins
//     against them (a removal beats the removed admin's concurrent
//     changes), within the last MaxRecent versions; any other change from
//     an older version is refused (ErrStale, ErrFork).
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
	a, err := ch.Proof.Verify(&ch.State)
	if err != nil {
		return nil, Outcome{}, err
	}
	head := ch.Proof.Head()
	ch.Author = head.Signer
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
	next.Recent = nextRecent(r, head)
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
	head, last := ch.Proof.Head(), r.head()
	if head.Digest() == last.Digest() {
		return nil, Outcome{}, ErrDuplicate
	}
	sibling := head.Prev == last.Prev && head.Number == last.Number
	switch relation(mine.chain, a.chain) {
	case extends:
	case older:
		if k, ok := mine.key(ch.Author); !ok || k != a.keys[ch.Author] {
			if sibling {
				break // judged as concurrent below (the removal wins)
			}
			return nil, Outcome{}, fmt.Errorf("%w (%s is no longer an admin)", ErrBadSignature, ch.Author)
		}
	default:
		// Only two admin changes made at once from one version.
		if !sibling || len(a.chain) != len(mine.chain) {
			return nil, Outcome{}, ErrFork
		}
	}
	if head.Number <= last.Number && !sibling {
		return overrule(r, ch, self)
	}
	return apply(r, ch, self, true)
}

// overrule accepts a change made from one of the member's recent versions
// that removes the admin right of everyone who signed a version since.
func overrule(r *Record, ch Change, self string) (*Record, Outcome, error) {
	head := ch.Proof.Head()
	i := slices.IndexFunc(r.Recent, func(v Version) bool { return v.Digest() == head.Prev })
	if i < 0 || head.Number != r.Recent[i].Number+1 {
		return nil, Outcome{}, ErrStale
	}
	for _, v := range r.Recent[i+1:] {
		if ch.IsAdmin(v.Signer) || v.Signer == ch.Author {
			return nil, Outcome{}, ErrStale // a replay, or a change overtaken
		}
	}
	// Judge it as a jump from the member's current state: the version
	// number is raised past it only in the record, not in the signed
	// state, so apply sees a newer change.
	jump := ch
	jump.Version = r.State.Version + 1
	next, out, err := apply(r, jump, self, true)
	if err != nil {
		return nil, out, err
	}
	next.State.Version = ch.Version
	next.Digest = ch.Digest()
	return next, out, nil
}

// head returns the version that made r's state.
func (r *Record) head() *Version {
	if len(r.Recent) > 0 {
		return &r.Recent[len(r.Recent)-1]
	}
	return r.Proof.Head()
}

// nextRecent returns the recent versions after head is accepted.
func nextRecent(r *Record, head *Version) []Version {
	var out []Version
	if r != nil && r.Proof != nil {
		for _, v := range r.Recent {
			if v.Number < head.Number {
				out = append(out, v)
			}
		}
		if len(out) > 0 && out[len(out)-1].Digest() != head.Prev {
			out = nil // a jump: what came between is unknown
		}
	}
	out = append(out, *head)
	if len(out) > MaxRecent {
		out = out[len(out)-MaxRecent:]
	}
	return out
}

// adminChain replays the admin set of a proof the member accepted before
// (its signatures were checked then).
func adminChain(p *Proof) *authority {
	a := &authority{keys: map[string]curve.PublicKey{}}
	for i := range p.Chain {
		if v := &p.Chain[i]; v.changesAdmins() {
			applyAdmins(a, v)
			a.chain = append(a.chain, v.Digest())
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
	return nil
}

// Moves reports whether ch (accepted as a new group) replaces the unsigned
// group old, which self is in and peer, who delivered it, is an admin of:
// then the client leaves old for the new group.
func Moves(old *Record, ch Change, peer, self string) bool {
	return ch.Proof != nil && old != nil && old.Proof == nil && ch.Proof.Chain[0].From == old.State.ID &&
		old.Member(self) && old.State.IsAdmin(peer) && ch.Proof.Head().Signer == peer
}
