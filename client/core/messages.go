package core

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/skymsg/sky/client/actions/annex"
	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/store"
)

// State is the delivery state of a message.
type State uint8

// The states. Outgoing messages go Pending → Sent → Delivered → Read (or
// Failed); incoming ones are Received until the user reads them.
const (
	Pending   = State(store.Pending)
	Sent      = State(store.Sent)
	Delivered = State(store.Delivered)
	Read      = State(store.Read)
	Received  = State(store.Received)
	Failed    = State(store.Failed)
)

func (s State) String() string {
	switch s {
	case Pending:
		return "pending"
	case Sent:
		return "sent"
	case Delivered:
		return "delivered"
	case Read:
		return "read"
	case Received:
		return "received"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Kind says what a message shows.
type Kind string

// The kinds of message a conversation shows.
const (
	KindText  Kind = "text"  // a text message
	KindTimer Kind = "timer" // a notice that the disappearing-messages timer changed
	KindGroup Kind = "group" // a notice that a group changed (Message.Change says how)
	// KindDevices is a notice that a contact's signed device list changed
	// ("added a device"); Text says how, in the client's own words.
	KindDevices Kind = "devices"
)

// Message is one message of a conversation as the user sees it.
type Message struct {
	LocalID      int64  // this device's number for it (MarkRead takes it)
	ID           string // the sender's stable message ID
	Conversation string // the peer's Sky ID, or the group's ID for a group's messages
	From         string // the sender's Sky ID
	Outgoing     bool
	Kind         Kind
	Text         string
	// Timer is the message's disappearing timer (KindText) or the new timer
	// of the conversation (KindTimer); 0 is off.
	Timer time.Duration
	// SenderDevice is which of the sender's devices sent it.
	SenderDevice uint32
	SentAt       time.Time // the sender's clock
	ReceivedAt   time.Time // incoming: when it arrived
	ReadAt       time.Time // incoming: when the user read it
	ExpiresAt    time.Time // when it is destroyed; zero while no countdown runs
	State        State
	Request      bool   // it belongs to a message request not yet accepted
	Seq          uint64 // the sender's sequence number in this conversation (in a group: of the sender's texts to it)
	// Group is the group's ID for a group's text or notice (then
	// Conversation is the same ID), GroupName its name as this client
	// knows it now.
	Group, GroupName string
	// Change says what a group notice (KindGroup) reports.
	Change *GroupChange
	// Attachments are the files a text carries (its Text is their
	// caption); package client/attach moves them.
	Attachments []Attachment
	// Failure says why an outgoing message Failed; a failed message stays
	// until the user dismisses it (DeleteMessage).
	Failure string
	// Quote is the message a text replies to (package client/actions).
	Quote *Quote
	// Reactions are the reactions to it, one per person.
	Reactions []Reaction
	// EditedAt is when its author last edited it (zero: never); Edits are
	// the texts the edits replaced, oldest first, kept for
	// annex.EditHistory.
	EditedAt time.Time
	Edits    []Edit
	// Receipts, on the user's own group text, say which members confirmed
	// it: delivered, or read (one each, in the order they arrived; a
	// member not listed has confirmed nothing yet, or the group's
	// receipts are off).
	Receipts []MemberReceipt
}

// Reaction is one person's reaction to a message; Edit an earlier text of
// an edited message.
type (
	Reaction      = annex.Reaction
	Edit          = annex.Edit
	MemberReceipt = annex.Receipt
)

// Quote is the message a reply quotes: its ID and excerpt, or Missing when
// this device does not have it (it disappeared, was deleted, or never
// arrived): then the excerpt is not shown either.
type Quote struct {
	ID      string
	From    string
	Excerpt string
	Missing bool
}

// Format hides the text under every fmt verb, so a message never reaches a
// log by accident. Use the Text field to show it.
func (m Message) Format(f fmt.State, _ rune) {
	dir := "from"
	if m.Outgoing {
		dir = "to"
	}
	fmt.Fprintf(f, "client.Message{%s %s %s, %s, %d text bytes}", m.Kind, dir, m.Conversation, m.State, len(m.Text))
}

// fromStore decodes a stored message.
func FromStore(m store.Message, request bool) (Message, error) {
	c, err := content.Decode(m.Body)
	if err != nil {
		return Message{}, fmt.Errorf("%w: a stored message does not decode", store.ErrCorrupt)
	}
	out := Message{LocalID: m.ID, ID: m.MessageID, Conversation: m.Conversation, From: m.Sender, Outgoing: m.Outgoing,
		Text: c.Text, Timer: c.Timer, SentAt: m.SentAt, ReceivedAt: m.ReceivedAt, ReadAt: m.ReadAt, ExpiresAt: m.ExpiresAt,
		State: State(m.State), Request: request && !m.Outgoing, Seq: c.Seq, Failure: m.Failure, SenderDevice: c.SenderDevice}
	out.Attachments = attachments(m.ID, c.Attachments)
	if c.Quote != nil {
		out.Quote = &Quote{ID: c.Quote.ID.String(), Excerpt: c.Quote.Excerpt, Missing: true}
	}
	if len(m.Annex) > 0 {
		a, err := annex.Decode(m.Annex)
		if err != nil {
			return Message{}, fmt.Errorf("%w: %v", store.ErrCorrupt, err)
		}
		out.Reactions, out.Edits, out.EditedAt, out.Receipts = a.Reactions, a.Edits, a.LastEdit(), a.Receipts
	}
	switch c.Kind {
	case content.KindText:
		out.Kind = KindText
	case content.KindBroadcastText:
		// A broadcast list's text, in the 1:1 conversation: its sequence
		// number counts the list's texts, not the conversation's, so it
		// keeps its place in the conversation (senderOrder).
		out.Kind, out.Seq = KindText, 0
	case content.KindTimerChange:
		out.Kind = KindTimer
	case content.KindDeviceNotice:
		out.Kind = KindDevices
	case content.KindGroupText:
		out.Kind, out.Group = KindText, c.GroupID.String()
	case content.KindGroupNotice:
		n := c.Notice
		out.Kind, out.Group, out.GroupName = KindGroup, c.GroupID.String(), n.Name
		out.Change = &GroupChange{By: c.Sender, Version: n.Version, Name: n.Name, Joined: n.Joined, Added: n.Added, Removed: n.Removed,
			Left: n.Left, AdminsAdded: n.AdminsAdded, AdminsRemoved: n.AdminsRemoved, Renamed: n.Renamed, TimerChanged: n.TimerChanged, Timer: c.Timer,
			LinkChanged: n.LinkChanged, InviteLink: n.Link, JoinRequests: n.JoinRequests}
	}
	return out, nil
}

// nameGroups fills in the current name of the groups of group messages,
// marks incoming ones of a group the user was invited to by a stranger as
// a request's, and says whether the messages replies quote are still here.
func (c *Core) nameGroups(tx *store.Tx, ms []Message) error {
	if err := findQuoted(tx, ms, c.Now()); err != nil {
		return err
	}
	infos := map[string]GroupInfo{}
	for i := range ms {
		g := ms[i].Group
		if g == "" || c.groupInfo == nil {
			continue
		}
		info, ok := infos[g]
		if !ok {
			var err error
			if info, err = c.groupInfo(tx, g); err != nil {
				return err
			}
			infos[g] = info
		}
		ms[i].GroupName = info.Name
		ms[i].Request = ms[i].Request || (info.Request && !ms[i].Outgoing)
	}
	return nil
}

// findQuoted marks each quote whose message this device still has (not
// expired) and names its author; the others stay Missing, with no excerpt.
func findQuoted(tx *store.Tx, ms []Message, now time.Time) error {
	for i := range ms {
		q := ms[i].Quote
		if q == nil {
			continue
		}
		orig, err := tx.FindMessage(ms[i].Conversation, q.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		case !orig.ExpiresAt.IsZero() && !orig.ExpiresAt.After(now):
		default:
			q.Missing, q.From = false, orig.Sender
		}
		if q.Missing {
			q.Excerpt = ""
		}
	}
	return nil
}

// senderOrder reorders a conversation's messages so that each sender's
// messages follow their sequence numbers, keeping the positions at which
// each sender's messages appear (the arrival order between the senders).
// Group notices (no sequence number) keep their places.
func senderOrder(ms []Message) {
	bySender := map[string][]int{} // sender → positions
	for i, m := range ms {
		if m.Seq != 0 {
			bySender[m.From] = append(bySender[m.From], i)
		}
	}
	for _, pos := range bySender {
		sub := make([]Message, len(pos))
		for i, p := range pos {
			sub[i] = ms[p]
		}
		slices.SortStableFunc(sub, func(a, b Message) int { return cmp.Compare(a.Seq, b.Seq) })
		for i, p := range pos {
			ms[p] = sub[i]
		}
	}
}

func IsRequest(tx *store.Tx, peer string) (bool, error) {
	_, err := tx.Request(peer)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func IsContact(tx *store.Tx, peer string) (bool, error) {
	_, err := tx.Contact(peer)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// History returns the last limit messages (limit <= 0: all) of the
// conversation with peer, oldest first, in each sender's order. Expired
// messages are never returned, even if expiry has not run yet.
func (c *Core) History(peer string, limit int) ([]Message, error) {
	var out []Message
	now := c.Now()
	err := c.View(func(tx *store.Tx) error {
		req, err := IsRequest(tx, peer)
		if err != nil {
			return err
		}
		var ms []store.Message
		if limit > 0 {
			ms, err = tx.LatestMessages(peer, limit)
		} else {
			ms, err = tx.Messages(peer, 0, 0)
		}
		if err != nil {
			return err
		}
		for _, m := range ms {
			if !m.ExpiresAt.IsZero() && !m.ExpiresAt.After(now) {
				continue
			}
			msg, err := FromStore(m, req)
			if err != nil {
				return err
			}
			out = append(out, msg)
		}
		return c.nameGroups(tx, out)
	})
	senderOrder(out)
	return out, err
}

// Unread returns the incoming messages the user has not read yet, each
// conversation in its sender's order, conversations by their first unread
// message. Messages held back for a missing earlier one are left out until
// it arrives or the gap timeout passes.
func (c *Core) Unread() ([]Message, error) {
	var groups [][]Message
	now := c.Now()
	err := c.View(func(tx *store.Tx) error {
		convs, err := tx.Conversations()
		if err != nil {
			return err
		}
		for _, conv := range convs {
			upto, err := uptoOf(tx, conv.ID)
			if err != nil {
				return err
			}
			req, err := IsRequest(tx, conv.ID)
			if err != nil {
				return err
			}
			ms, err := tx.Messages(conv.ID, 0, 0)
			if err != nil {
				return err
			}
			var g []Message
			for _, m := range ms {
				if m.Outgoing || store.State(m.State) != store.Received || (!m.ExpiresAt.IsZero() && !m.ExpiresAt.After(now)) {
					continue
				}
				msg, err := FromStore(m, req)
				if err != nil {
					return err
				}
				if u, err := upto(msg.From, msg.SenderDevice); err != nil {
					return err
				} else if msg.Seq > u {
					continue // held for a gap
				}
				g = append(g, msg)
			}
			if err := c.nameGroups(tx, g); err != nil {
				return err
			}
			if len(g) > 0 {
				senderOrder(g)
				groups = append(groups, g)
			}
		}
		return nil
	})
	slices.SortStableFunc(groups, func(a, b []Message) int { return a[0].ReceivedAt.Compare(b[0].ReceivedAt) })
	var out []Message
	for _, g := range groups {
		out = append(out, g...)
	}
	return out, err
}

// uptoOf returns, for a conversation, how far each sender's messages have
// been released: the peer's in a 1:1 conversation, each member's in a
// group's.
func uptoOf(tx *store.Tx, conv string) (func(sender string, dev uint32) (uint64, error), error) {
	key := func(sender string) string { return conv }
	if id, err := content.ParseGroupID(conv); err == nil {
		key = func(sender string) string { return TrackKey(id, sender) }
	}
	seen := map[string]uint64{}
	return func(sender string, dev uint32) (uint64, error) {
		k := SeqKey(key(sender), dev)
		if u, ok := seen[k]; ok {
			return u, nil
		}
		in, err := LoadSeq(tx, k)
		seen[k] = in.Upto
		return in.Upto, err
	}, nil
}

// DeleteMessage deletes a message of this device's store (by LocalID):
// for example a failed one the user dismisses. Anything of it still queued
// is cancelled; the peer's copy is not touched.
func (c *Core) DeleteMessage(localID int64) error {
	return c.Update(func(tx *store.Tx) error { return tx.DeleteMessage(localID) })
}

// MarkRead records that the user read the messages (by LocalID): their
// disappearing timers start now, and read receipts go to the senders that
// are contacts (never to message requests). It returns the messages it
// marked, with their expiry.
func (c *Core) MarkRead(localIDs ...int64) ([]Message, error) {
	now := c.Now()
	var out []Message
	err := c.Update(func(tx *store.Tx) error {
		out = out[:0]
		receipts := map[string][]content.ID{}
		groupReads := map[groupRcpt][]content.ID{}
		for _, id := range localIDs {
			m, err := tx.Message(id)
			if errors.Is(err, store.ErrNotFound) {
				continue // expired meanwhile
			}
			if err != nil {
				return err
			}
			if m.Outgoing || m.State != store.Received {
				continue
			}
			m, err = tx.MarkRead(id, now)
			if err != nil {
				return err
			}
			contact, err := IsContact(tx, m.Conversation)
			if err != nil {
				return err
			}
			msg, err := FromStore(m, !contact)
			if err != nil {
				return err
			}
			if req, err := IsRequest(tx, m.Conversation); err != nil {
				return err
			} else {
				msg.Request = req
			}
			out = append(out, msg)
			if mid, err := content.ParseID(m.MessageID); err == nil && contact {
				receipts[m.Conversation] = append(receipts[m.Conversation], mid)
			} else if err == nil && msg.Group != "" {
				if err := c.groupRead(tx, msg, mid, groupReads); err != nil {
					return err
				}
			}
		}
		for peer, ids := range receipts {
			if err := c.enqueueReceipt(tx, peer, content.Read, ids, now); err != nil {
				return err
			}
		}
		if err := c.queueGroupReads(tx, groupReads, now); err != nil {
			return err
		}
		if err := c.SyncRead(tx, out); err != nil {
			return err
		}
		return c.nameGroups(tx, out)
	})
	if err != nil {
		return nil, err
	}
	c.KickExpiry()
	c.KickOutbox()
	return out, nil
}
