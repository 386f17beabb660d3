package group

import (
	"errors"
	"slices"
	"strings"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
)

// Confirming an invitation. A signed copy of a group that verifies is not
// yet the group everyone else holds: a removed admin (or a server with its
// cooperation) can show a newcomer an old, validly signed copy that lists
// it, or a branch the admin signs from a copy it kept from before its
// removal. The real members never write to the newcomer, so nothing would
// ever correct it. So an invitee holds a new group as unconfirmed until a
// member other than whoever delivered it and the head's signer confirms
// the head:
//
//   - on joining, it asks up to maxConfirmAsks other members of its copy
//     for their head (KindGroupSync, as heads are exchanged anyway);
//   - a member whose copy lists the asker answers with its head when it is
//     the same (confirmed), or its state and proof when newer (judged like
//     any change: applied, it confirms);
//   - a member whose copy does not list the asker answers with its head
//     (nothing else: a number and a digest), so the asker sends its copy;
//     a member refusing a copy that verifies back to the group's creation,
//     lists its sender and is not its own, sends its state and proof back
//     to that sender. The invitee judges it like any change: the removal
//     that made the admin a former one wins over the admin's branch, and
//     the invitee, not in the winning copy, is out of the group and told
//     why (the invitation was a fork);
//   - a group text of such a member whose head is the invitee's confirms
//     it as well.
//
// What stays undetectable: a copy whose other members all collude or never
// answer (or one listing nobody but its deliverer and signer) stays
// unconfirmed, which the group shows (Group.Unconfirmed).

// setUnconfirmed + group ID: who delivered the invitation still unconfirmed.
const setUnconfirmed = "group-unconfirmed/"

// maxConfirmAsks bounds how many members an invitee asks to confirm.
const maxConfirmAsks = 4

// unconfirmed returns who delivered an unconfirmed invitation and who
// signed the version it brought, or "" for a group not waiting.
func unconfirmed(tx *store.Tx, id content.GroupID) (by, signer string, err error) {
	b, err := core.Setting(tx, setUnconfirmed+id.String())
	by, signer, _ = strings.Cut(string(b), "\n")
	return by, signer, err
}

// askConfirm notes that the user joined r from peer and asks other
// members for their head.
func (g *Groups) askConfirm(tx *store.Tx, r *Record, peer string, b *core.Batch) error {
	if !checkSignatures || r.Proof == nil || r.head().Genesis() {
		// A creation lists its first members, whose clients keep it from
		// then on: only one who lost its copy could be shown it again.
		return nil
	}
	signer := r.head().Signer
	others := slices.DeleteFunc(r.Recipients(g.self()), func(m string) bool { return m == peer || m == signer })
	if len(others) == 0 {
		return nil // nobody to confirm with (the user is told so in docs/protocol.md)
	}
	if err := tx.SetSetting(setUnconfirmed+r.State.ID.String(), []byte(peer+"\n"+signer)); err != nil {
		return err
	}
	for _, m := range others[:min(len(others), maxConfirmAsks)] {
		if err := g.sendState(tx, r, m, b); err != nil {
			return err
		}
	}
	return nil
}

// confirmedBy settles an unconfirmed invitation when peer, an active
// member of r other than the invitation's deliverer and signer, holds a
// copy that lists the user.
func (g *Groups) confirmedBy(tx *store.Tx, r *Record, peer string) error {
	by, signer, err := unconfirmed(tx, r.State.ID)
	if err != nil || by == "" || peer == by || peer == signer || !r.Active(peer) || !r.Member(g.self()) {
		return err
	}
	return tx.DeleteSetting(setUnconfirmed + r.State.ID.String())
}

// refutedBy tells the user that a member's copy, which won over the one
// the user was invited with, does not list the user.
func (g *Groups) refutedBy(tx *store.Tx, next *Record, peer string, b *core.Batch) error {
	by, _, err := unconfirmed(tx, next.State.ID)
	if err != nil || by == "" {
		return err
	}
	b.Drop(by, "the invitation to the group "+nameOf(next)+" from "+by+" is refused: "+peer+", a member, holds a later signed version of the group "+
		"that does not list you (the invitation was a fork of an old copy, or you were removed since); you are not in it")
	return tx.DeleteSetting(setUnconfirmed + next.State.ID.String())
}

// answerRival sends the user's copy of a group to peer, whose refused
// copy ch verifies back to the same creation and lists peer, which the
// user's copy does not: so peer learns its copy is a fork. Errors that
// come before the proof verifies get no answer.
func (g *Groups) answerRival(tx *store.Tx, r *Record, ch Change, peer string, err error, b *core.Batch) error {
	if !errors.Is(err, ErrFork) && !errors.Is(err, ErrStale) && !errors.Is(err, ErrNotAdmin) && !errors.Is(err, ErrConflict) && !errors.Is(err, ErrBadSignature) {
		return nil
	}
	if r == nil || r.Proof == nil || ch.Proof == nil || !r.Member(g.self()) || !ch.IsMember(peer) ||
		ch.Proof.Chain[0].Digest() != r.Proof.Chain[0].Digest() {
		return nil
	}
	if !r.Active(peer) {
		// Never to a former member (it would learn who joined since,
		// formers.go), once per sender and group per syncEvery (sendState),
		// and within the sender's budget of proof checks.
		if was, err := wasMember(tx, r, ch, peer); err != nil || was {
			return err
		}
		if g.sync.recent("send/"+r.State.ID.String()+"/"+peer, b.Now) || !g.verifiesFrom(r, ch, peer, b.Now) {
			return nil
		}
	}
	return g.sendState(tx, r, peer, b)
}

// verifies reports whether ch's proof verifies from scratch back to the
// creation of r's group.
func verifies(r *Record, ch Change) bool {
	if ch.Proof == nil || r.Proof == nil || ch.Proof.Chain[0].Digest() != r.Proof.Chain[0].Digest() {
		return false
	}
	_, err := ch.Proof.verify(&ch.State, nil)
	return err == nil
}

// settleInvite follows an applied change from peer for an invitation:
// joining starts the confirmation, a copy of another member that keeps
// the user confirms it, one that leaves the user out refutes it.
func (g *Groups) settleInvite(tx *store.Tx, r, next *Record, out Outcome, peer string, b *core.Batch) error {
	switch {
	case out.Diff.Joined:
		return g.askConfirm(tx, next, peer, b)
	case r == nil || next.Proof == nil:
		return nil
	case !r.Member(g.self()):
		return nil
	case !next.State.IsMember(g.self()):
		return g.refutedBy(tx, next, peer, b)
	}
	return g.confirmedBy(tx, next, peer)
}

// refuteInvite judges, for an unconfirmed invitation r, a copy ch that
// ApplySigned refused (err), delivered by peer, an active member of r
// other than the invitation's deliverer and signer. If ch verifies back to
// r's creation, leaves the user out, and its admin history has a change
// r's lacks (so peer is not merely behind), r was a fork: the user takes
// ch in its place (and so is out of the group) and is told why. It reports
// whether it did.
func (g *Groups) refuteInvite(tx *store.Tx, r *Record, ch Change, peer string, err error, b *core.Batch) (bool, error) {
	if err == nil || errors.Is(err, ErrDuplicate) || r == nil || r.Proof == nil || ch.Proof == nil || !r.Member(g.self()) || !r.Active(peer) {
		return false, nil
	}
	by, signer, serr := unconfirmed(tx, r.State.ID)
	if serr != nil || by == "" || peer == by || peer == signer || ch.IsMember(g.self()) ||
		ch.Proof.Chain[0].Digest() != r.Proof.Chain[0].Digest() {
		return false, serr
	}
	a, verr := ch.Proof.verify(&ch.State, nil)
	if verr != nil || relation(adminChain(r.Proof).chain, a.chain) != diverged && !longer(a.chain, adminChain(r.Proof).chain) {
		return false, nil
	}
	ch.Author = ch.Proof.Head().Signer
	next, out, rerr := replace(r, ch, g.self())
	if rerr != nil {
		return false, nil
	}
	next.Proof = ch.Proof
	next.Recent = nextRecent(nil, ch.branch())
	if err := g.afterChange(tx, r, next, out, next.Author, b); err != nil {
		return false, err
	}
	return true, g.refutedBy(tx, next, peer, b)
}

// longer reports whether admin history theirs goes on past mine.
func longer(theirs, mine [][32]byte) bool { return len(theirs) > len(mine) }

// AdmitsRival reports whether a group update from peer, who is not in the
// user's copy of its group, is let in: a signed copy naming peer that
// verifies back to the same creation (an invitee confirming its copy; a
// refused one is answered with the user's copy, answerRival). A copy from
// a former member, or beyond the sender's budget of proof checks
// (formers.go), is not; anything not let in is held (strangers.go).
func (g *Groups) AdmitsRival(tx *store.Tx, peer string, ct *content.Content) (bool, error) {
	if ct.Kind != content.KindGroupUpdate || ct.Group == nil || len(ct.Group.Proof) == 0 || !slices.Contains(ct.Group.Members, peer) {
		return false, nil
	}
	r, err := loadGroup(tx, ct.GroupID)
	if err != nil || r == nil || r.Proof == nil || !r.Member(g.self()) || r.Active(peer) {
		return false, err
	}
	body := ct.Group
	ch := Change{State: State{ID: ct.GroupID, Version: body.Version, Name: body.Name,
		Members: body.Members, Admins: body.Admins, Timer: ct.Timer, Link: body.Link}}
	if ch.Proof, err = ParseProof(body.Proof); err != nil || ch.Check() != nil {
		return false, nil
	}
	if was, err := wasMember(tx, r, ch, peer); err != nil || was {
		return false, err // a former member gets no answer (formers.go): held, not checked
	}
	return g.verifiesFrom(r, ch, peer, g.c.Now()), nil
}

// sameHead tells peer, a member who relayed (not signed) the copy ch that
// the user now holds, that the user's head is the same: an invitee asking
// to confirm learns it from this when the user was behind.
func (g *Groups) sameHead(tx *store.Tx, r *Record, ch Change, peer string, b *core.Batch) error {
	if r == nil || r.Proof == nil || ch.Proof == nil || !r.Member(g.self()) || !r.Active(peer) ||
		peer == ch.Proof.Head().Signer || ch.Proof.Head().Digest() != r.head().Digest() {
		return nil
	}
	return g.confirmHead(tx, r, peer, b)
}
