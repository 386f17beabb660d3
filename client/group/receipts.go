package group

import (
	"errors"
	"time"

	"github.com/skymsg/sky/client/actions/annex"
	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
)

// Receipts in groups (content/groupreceipts.go says what travels). A member
// confirms a group text to its author only, in their 1:1 session, when the
// group's receipts are on as the member's copy of the group knows it: an
// admin's switch (SetGroupReceipts, sent to every member in 1:1 sessions
// and to each member added later), or by default on in groups of up to
// content.DefaultReceiptMembers members. The author keeps each member's
// receipt in the message's annex (one per member, delivered or read, never
// moving back), shown as Message.Receipts. What limits a hostile member:
// only an active member's receipt for the user's own texts in that group
// counts, only while receipts are on, one entry per member and message,
// and it can move forward only once (delivered, then read).

// setReceipts holds a group's receipts setting: {1: setting, 2: the
// admin's send time in milliseconds, 3: the admin}.
const setReceipts = "group-receipts/"

// ReceiptsSetting is a group's receipts setting as this client knows it.
type ReceiptsSetting struct {
	Setting content.GroupReceipts
	By      string    // the admin who set it ("" for the default)
	At      time.Time // when, by the admin's clock
	On      bool      // members send receipts (the setting applied to the group's size)
}

func loadReceipts(tx *store.Tx, r *Record) (ReceiptsSetting, error) {
	f, err := core.SettingFields(tx, setReceipts+r.State.ID.String())
	if err != nil {
		return ReceiptsSetting{}, err
	}
	s := ReceiptsSetting{Setting: content.GroupReceipts(f.Nums[1]), By: string(f.One(3))}
	if ms := f.Nums[2]; ms != 0 {
		s.At = time.UnixMilli(int64(ms))
	}
	switch s.Setting {
	case content.ReceiptsOn:
		s.On = true
	case content.ReceiptsOff:
	default:
		s.Setting, s.On = content.ReceiptsDefault, len(r.State.Members) <= content.DefaultReceiptMembers
	}
	return s, nil
}

func saveReceipts(tx *store.Tx, id content.GroupID, s ReceiptsSetting) error {
	b := core.PutNum(nil, 1, uint64(s.Setting))
	b = core.PutNum(b, 2, uint64(s.At.UnixMilli()))
	b = core.PutBytes(b, 3, []byte(s.By))
	return tx.SetSetting(setReceipts+id.String(), b)
}

// receiptsOn reports whether the user confirms texts of group r: its
// receipts are on, the user is a member, and r is not a stranger's
// invitation still waiting.
func receiptsOn(tx *store.Tx, r *Record, self string) (bool, error) {
	if r == nil || !r.Member(self) {
		return false, nil
	}
	s, err := loadReceipts(tx, r)
	if err != nil || !s.On {
		return false, err
	}
	inviter, err := invitedBy(tx, r.State.ID)
	return inviter == "", err
}

// confirm queues a delivery receipt for peer's group text id, if the
// group's receipts are on.
func (g *Groups) confirm(tx *store.Tx, r *Record, peer string, id content.ID, b *core.Batch) error {
	on, err := receiptsOn(tx, r, g.self())
	if on {
		b.DeliverGroup(peer, r.State.ID, id)
	}
	return err
}

// GroupReceipts returns a group's receipts setting.
func (g *Groups) GroupReceipts(ref string) (ReceiptsSetting, error) {
	var out ReceiptsSetting
	err := g.c.View(func(tx *store.Tx) error {
		r, err := findGroup(tx, ref)
		if err == nil {
			out, err = loadReceipts(tx, r)
		}
		return err
	})
	return out, err
}

// SetGroupReceipts switches a group's receipts on or off, or back to the
// default (on for groups of up to content.DefaultReceiptMembers); the user
// must be an admin. Every member is told in their 1:1 session.
func (g *Groups) SetGroupReceipts(ref string, s content.GroupReceipts) (ReceiptsSetting, error) {
	if s > content.ReceiptsOff {
		return ReceiptsSetting{}, content.ErrMalformed
	}
	var out ReceiptsSetting
	err := g.c.Act(func(tx *store.Tx, b *core.Batch) error {
		r, err := findGroup(tx, ref)
		if err != nil {
			return err
		}
		switch {
		case !r.Member(g.self()):
			return ErrNotGroupMember
		case !r.State.IsAdmin(g.self()):
			return ErrNotGroupAdmin
		}
		set := ReceiptsSetting{Setting: s, By: g.self(), At: g.c.Now().Truncate(time.Millisecond)}
		if err := saveReceipts(tx, r.State.ID, set); err != nil {
			return err
		}
		for _, m := range r.Recipients(g.self()) {
			if err := g.sendReceipts(tx, r.State.ID, m, set); err != nil {
				return err
			}
		}
		b.Queued = true
		out, err = loadReceipts(tx, r)
		return err
	})
	return out, err
}

func (g *Groups) sendReceipts(tx *store.Tx, id content.GroupID, m string, s ReceiptsSetting) error {
	return g.c.EnqueueControl(tx, m, &content.Content{Kind: content.KindGroupReceipts, GroupID: id, Receipts: s.Setting})
}

// shareReceipts tells members new to the group of an admin's receipts
// setting (the default needs no telling).
func (g *Groups) shareReceipts(tx *store.Tx, old *State, next *Record, m string) error {
	if (old != nil && old.IsMember(m)) || !next.Active(m) {
		return nil
	}
	s, err := loadReceipts(tx, next)
	if err != nil || s.By == "" || s.Setting == content.ReceiptsDefault {
		return err
	}
	return g.sendReceipts(tx, next.State.ID, m, s)
}

// ApplyReceiptsSetting takes a group's receipts setting from peer, which
// counts only from a current admin of the group and only if newer (by the
// admin's clock) than the setting kept.
func (g *Groups) ApplyReceiptsSetting(tx *store.Tx, peer string, ct *content.Content, b *core.Batch) error {
	r, err := loadGroup(tx, ct.GroupID)
	if err != nil {
		return err
	}
	switch {
	case r == nil || !r.Member(g.self()) || !r.Active(peer):
		b.Drop(peer, "a group's receipts setting from someone not in that group with you")
	case !r.State.IsAdmin(peer):
		b.Drop(peer, "a group's receipts setting from a member who is not an admin")
	default:
		cur, err := loadReceipts(tx, r)
		if err != nil {
			return err
		}
		if cur.By == "" || ct.SentAt.After(cur.At) || (ct.SentAt.Equal(cur.At) && peer > cur.By) {
			if err := saveReceipts(tx, ct.GroupID, ReceiptsSetting{Setting: ct.Receipts, By: peer, At: ct.SentAt}); err != nil {
				return err
			}
		}
	}
	return g.c.Track(tx, peer, ct.Seq, 0, b)
}

// ApplyReceipt takes a member's receipt for the user's texts in a group:
// each member's entry on each named text moves forward (delivered, read)
// at most once, and the text's own state follows the slowest member.
func (g *Groups) ApplyReceipt(tx *store.Tx, peer string, ct *content.Content, b *core.Batch) error {
	r, err := loadGroup(tx, ct.GroupID)
	if err != nil {
		return err
	}
	if r == nil || !r.Member(g.self()) || !r.Active(peer) {
		b.Drop(peer, "a receipt for a group from someone not in it with you")
		return nil
	}
	if s, err := loadReceipts(tx, r); err != nil || !s.On {
		return err // receipts are off: not even looked at
	}
	read := ct.Receipt == content.Read
	rcpts := len(r.Recipients(g.self()))
	var ids []string
	for _, id := range ct.IDs {
		m, err := tx.FindMessage(r.State.ID.String(), id.String())
		if errors.Is(err, store.ErrNotFound) || (err == nil && (!m.Outgoing || m.Sender != g.self())) {
			continue // expired, or not the user's
		}
		if err != nil {
			return err
		}
		ax, err := annex.Decode(m.Annex)
		if err != nil {
			return err
		}
		if !ax.Confirm(peer, read, b.Now) {
			continue
		}
		m.Annex = ax.Encode()
		m.State = aggregate(m.State, ax.Receipts, rcpts)
		if err := tx.UpdateMessage(m); err != nil {
			return err
		}
		ids = append(ids, m.MessageID)
	}
	if len(ids) > 0 {
		st := core.Delivered
		if read {
			st = core.Read
		}
		b.Events = append(b.Events, &core.ReceiptEvent{Conversation: r.State.ID.String(), MessageIDs: ids, State: st, By: peer})
	}
	return nil
}

// aggregate is a group text's state from its members' receipts: Delivered
// once every recipient (of the group as it is now) confirmed it, Read once
// every one read it; never back.
func aggregate(cur store.State, rs []annex.Receipt, recipients int) store.State {
	if len(rs) < recipients || recipients == 0 {
		return cur
	}
	next := store.Read
	for _, r := range rs {
		if !r.Read {
			next = store.Delivered
		}
	}
	if cur == store.Read || (cur == store.Delivered && next == store.Delivered) {
		return cur
	}
	return next
}
