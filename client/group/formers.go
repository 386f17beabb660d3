package group

import (
	"slices"
	"sync"
	"time"

	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
)

// Former members. A member answers a non-member's signed copy of a group
// with its own state and proof (answerRival) so that an invitee shown a
// fork learns it. That answer names everyone in the group now, so it must
// never go to someone who was in the group and is no longer: a member
// removed (or gone on its own) would learn, by replaying the copy it kept,
// who joined after it. Such a sender already knows it is out and gets
// nothing. The member's signed history shows removed admins (the proof
// keeps every admin change) and its last MaxRecent versions, but not every
// removed member, so each member also records whoever leaves its copy
// (setFormer). What stays: a member removed before the user joined, and not
// an admin then, is unknown to the user's client; it may still learn the
// membership from the user (docs/protocol.md says so).

// setFormer + group ID: members who left the user's copy, oldest first.
const setFormer = "group-former/"

// maxFormers bounds the former members kept per group (the oldest go).
const maxFormers = MaxMembers

// recordFormers notes the members in r's state that next's leaves out.
func recordFormers(tx *store.Tx, r, next *Record) error {
	if r == nil {
		return nil
	}
	gone := minus(r.State.Members, next.State.Members)
	if len(gone) == 0 {
		return nil
	}
	key := setFormer + next.State.ID.String()
	list, err := core.StringList(tx, key)
	if err != nil {
		return err
	}
	list = slices.DeleteFunc(list, func(m string) bool { return slices.Contains(gone, m) || next.State.IsMember(m) })
	list = append(list, gone...)
	return core.SaveStringList(tx, key, list[max(0, len(list)-maxFormers):])
}

// wasMember reports whether peer, not an active member of r, is one the
// user's copy shows was in the group: departed, a removed admin, listed in
// one of r's own past versions that ch's head is, or recorded as gone.
func wasMember(tx *store.Tx, r *Record, ch Change, peer string) (bool, error) {
	if r.State.IsMember(peer) {
		return true, nil // departed, not yet removed
	}
	if r.Proof != nil {
		for _, v := range r.Proof.Chain {
			if slices.Contains(v.Removed, peer) {
				return true, nil
			}
		}
		if ch.Proof != nil && ch.IsMember(peer) && ownVersion(r, ch.Proof.Head().Digest()) {
			return true, nil // peer's copy is one the user held, which listed peer
		}
	}
	list, err := core.StringList(tx, setFormer+r.State.ID.String())
	return slices.Contains(list, peer), err
}

// ownVersion reports whether a version with digest d is in r's history as
// this client keeps it.
func ownVersion(r *Record, d [32]byte) bool {
	for _, vs := range [][]Version{r.Recent, r.Proof.Chain} {
		for i := range vs {
			if vs[i].Digest() == d {
				return true
			}
		}
	}
	return false
}

// Bounds of the proof checks spent on copies from non-members: a proof
// may take ~15 ms to verify, and a stranger (or a server posing as many)
// can send a sealed copy as often as it likes.
const (
	rivalChecks = 4           // per sender per rivalEvery
	rivalEvery  = time.Minute // the window
	maxRivalIDs = 4096        // senders remembered; beyond, new senders wait for a window to end
)

// rivalLimiter counts, in memory, the proof checks spent per non-member
// sender in the current window.
type rivalLimiter struct {
	mu sync.Mutex
	n  map[string]rivalCount
}

type rivalCount struct {
	since time.Time
	n     int
}

// allow reports whether one more proof check for sender peer may be spent
// at now, and if so counts it.
func (l *rivalLimiter) allow(peer string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == nil {
		l.n = map[string]rivalCount{}
	}
	c, known := l.n[peer]
	if !known && len(l.n) >= maxRivalIDs {
		// Full: forget the senders whose window ran out; if none did,
		// a new sender waits (clearing everyone would hand a server that
		// cycles through names a fresh budget for each of them).
		for id, old := range l.n {
			if now.Sub(old.since) >= rivalEvery || now.Before(old.since) {
				delete(l.n, id)
			}
		}
		if len(l.n) >= maxRivalIDs {
			return false
		}
	}
	if now.Sub(c.since) >= rivalEvery || now.Before(c.since) {
		c = rivalCount{since: now}
	}
	if c.n >= rivalChecks {
		return false
	}
	c.n++
	l.n[peer] = c
	return true
}

// verifiesFrom is verifies within peer's budget of proof checks.
func (g *Groups) verifiesFrom(r *Record, ch Change, peer string, now time.Time) bool {
	return g.rivals.allow(peer, now) && verifies(r, ch)
}
