package group

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
)

// Chain heads. Every group text carries its sender's head of the group's
// signed versions (version number and digest). A member whose own head
// differs learns that one of the two copies is behind or forked:
//
//   - if the sender's is newer, or as new but different, the member asks
//     the sender for its state (KindGroupSync, carrying the member's own
//     head), and judges what comes back like any change (ApplySigned): a
//     withheld change is found, a losing fork gives way;
//   - if the sender's is older, the member sends the sender its own state
//     and proof.
//
// A member answers a sync only from an active member of its own copy, with
// its state and proof (no keys), and asks back when the asker's head is
// the newer one. Each direction happens at most once per syncEvery per
// group and member, so a hostile member cannot make a client send without
// bound.

// syncEvery is how often, at most, a member asks or answers one other
// member about one group.
const syncEvery = time.Minute

// syncLimiter remembers when a member last asked or answered whom.
type syncLimiter struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// allow reports whether key may act at now, and if so notes it.
func (l *syncLimiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = map[string]time.Time{}
	}
	if t, ok := l.last[key]; ok && now.Sub(t) < syncEvery && !now.Before(t) {
		return false
	}
	if len(l.last) > 4096 {
		clear(l.last) // a bound, not a schedule: forgetting only allows one more
	}
	l.last[key] = now
	return true
}

// recent reports whether key acted within syncEvery before now, without
// noting anything.
func (l *syncLimiter) recent(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.last[key]
	return ok && now.Sub(t) < syncEvery && !now.Before(t)
}

// HeadBytes returns r's head as it travels (content.GroupHeadSize bytes),
// or nil for a group not signed yet.
func (r *Record) HeadBytes() []byte {
	if r == nil || r.Proof == nil {
		return nil
	}
	h := r.head()
	d := h.Digest()
	return append(binary.BigEndian.AppendUint64(nil, h.Number), d[:]...)
}

// compareHead tells how a head (as HeadBytes writes it) stands to r's:
// 0 the same (or none to compare), 1 newer or a rival of the same number,
// -1 older.
func (r *Record) compareHead(b []byte) int {
	mine := r.HeadBytes()
	if len(b) != content.GroupHeadSize || mine == nil || string(b) == string(mine) {
		return 0
	}
	n, my := binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(mine)
	if n < my {
		return -1
	}
	return 1
}

// checkHead compares the head a member's group text carried with the
// user's copy, and asks or tells that member (see above).
func (g *Groups) checkHead(tx *store.Tx, r *Record, peer string, head []byte, b *core.Batch) error {
	switch r.compareHead(head) {
	case 1:
		return g.askState(tx, r, peer, b)
	case -1:
		return g.sendState(tx, r, peer, b)
	}
	return nil
}

// askState asks peer for its copy of the group.
func (g *Groups) askState(tx *store.Tx, r *Record, peer string, b *core.Batch) error {
	if !g.sync.allow("ask/"+r.State.ID.String()+"/"+peer, b.Now) {
		return nil
	}
	b.Queued = true
	return g.c.EnqueueControl(tx, peer, &content.Content{Kind: content.KindGroupSync, GroupID: r.State.ID, GroupHead: r.HeadBytes()})
}

// sendState sends peer the user's copy of the group: its state and proof.
func (g *Groups) sendState(tx *store.Tx, r *Record, peer string, b *core.Batch) error {
	if !g.sync.allow("send/"+r.State.ID.String()+"/"+peer, b.Now) {
		return nil
	}
	proof, err := r.Proof.MarshalBinary()
	if err != nil {
		return err
	}
	s := &r.State
	body := &content.Group{Version: s.Version, Name: s.Name, Members: s.Members, Admins: s.Admins, Link: s.Link, Proof: proof, Ancestry: r.ancestry()}
	b.Queued = true
	return g.c.EnqueueControl(tx, peer, &content.Content{Kind: content.KindGroupUpdate, GroupID: s.ID, Timer: s.Timer, Group: body})
}

// applySync answers a member who asks for the user's copy of a group.
func (g *Groups) applySync(tx *store.Tx, peer string, ct *content.Content, b *core.Batch) error {
	r, err := loadGroup(tx, ct.GroupID)
	if err != nil {
		return err
	}
	if r == nil || r.Proof == nil || !r.Member(g.self()) {
		b.Drop(peer, "a request for a group's state of a group you are not in")
		return nil
	}
	if !r.Active(peer) {
		b.Drop(peer, "a request for a group's state from someone who is not in it with you")
		return nil
	}
	switch r.compareHead(ct.GroupHead) {
	case 0:
		if len(ct.GroupHead) != content.GroupHeadSize {
			return nil
		}
		// An invitee asking to confirm its copy, or a member answering
		// the user's own request: either confirms an invitation.
		if err := g.confirmedBy(tx, r, peer); err != nil {
			return err
		}
		if g.sync.recent("ask/"+r.State.ID.String()+"/"+peer, b.Now) {
			return nil // the answer to the user's own request
		}
		return g.confirmHead(tx, r, peer, b)
	case 1:
		if err := g.askState(tx, r, peer, b); err != nil {
			return err
		}
		return g.sendState(tx, r, peer, b) // theirs may lose against it
	case -1:
		return g.sendState(tx, r, peer, b)
	}
	return nil
}

// confirmHead tells peer, who holds the same head, that the user does too.
func (g *Groups) confirmHead(tx *store.Tx, r *Record, peer string, b *core.Batch) error {
	if !g.sync.allow("same/"+r.State.ID.String()+"/"+peer, b.Now) {
		return nil
	}
	b.Queued = true
	return g.c.EnqueueControl(tx, peer, &content.Content{Kind: content.KindGroupSync, GroupID: r.State.ID, GroupHead: r.HeadBytes()})
}

// ancestry encodes the versions before r's head, as updates carry them.
func (r *Record) ancestry() []byte {
	if len(r.Recent) < 2 {
		return nil
	}
	return EncodeAncestry(r.Recent[:len(r.Recent)-1])
}
