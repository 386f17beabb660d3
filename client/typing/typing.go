// Package typing is typing indicators: "Bob is typing…". They leak when
// the user is active, so they are off until the user turns them on
// (SetEnabled), and then work both ways: with them off, the client neither
// sends its own nor shows anyone else's.
//
// An indicator is a content.KindTyping sent inside the 1:1 session — to a
// contact, or to each member of a group of at most MaxGroupMembers — only
// while the client is connected (never left queued for later), at most one
// "started" per conversation every Refresh, and one "stopped" after a
// "started". It takes no sequence number and is never stored: the
// receiver turns it into a TypingEvent that says until when to show it
// (Expiry after it arrived, unless renewed), and drops one older than
// Expiry (it was delayed) or from anyone but a contact or a member of the
// group it names. The receiver also throttles what a (possibly modified)
// sender floods: per sender and conversation, at most Burst events at once
// and then one every Throttle, a "stopped" only after a "started" shown;
// the rest is dropped, and nothing of it is stored (throttle.go).
package typing

import (
	"errors"
	"sync"
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
)

// Timing and bounds.
const (
	// Refresh is how often, at most, a "started" goes to one
	// conversation while the user keeps typing.
	Refresh = 3 * time.Second
	// Expiry is how long a receiver shows an indicator that is not
	// renewed; it also bounds how late one may arrive.
	Expiry = 6 * time.Second
	// MaxGroupMembers bounds the groups indicators go to: each is one
	// encryption per member.
	MaxGroupMembers = 100
)

const setting = "typing/on"

// Typing is the concern.
type Typing struct {
	c    *core.Core
	mu   sync.Mutex
	sent map[string]time.Time // conversation -> when the last "started" went; absent: stopped
	rx   throttle             // what the receiver shows, per sender and conversation
}

// New makes the concern on a core.
func New(c *core.Core) *Typing { return &Typing{c: c, sent: map[string]time.Time{}} }

// Enabled reports whether typing indicators are on.
func (t *Typing) Enabled() (bool, error) {
	var on bool
	err := t.c.View(func(tx *store.Tx) (err error) {
		on, err = enabled(tx)
		return err
	})
	return on, err
}

// SetEnabled turns typing indicators on or off.
func (t *Typing) SetEnabled(on bool) error {
	return t.c.Update(func(tx *store.Tx) error {
		if on {
			return tx.SetSetting(setting, []byte{1})
		}
		return tx.DeleteSetting(setting)
	})
}

func enabled(tx *store.Tx) (bool, error) {
	b, err := tx.Setting(setting)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil && len(b) == 1 && b[0] == 1, err
}

// Target is where an indicator goes: a contact (Peer) or a group (Group
// set, Members the members the user sends to).
type Target struct {
	Peer    string
	Group   *content.GroupID
	Members []string
}

func (g Target) conversation() string {
	if g.Group != nil {
		return g.Group.String()
	}
	return g.Peer
}

// Send tells the conversation that the user is typing (typing true) or
// stopped. It does nothing (and is not an error) when indicators are off,
// the client is offline, the peer is not a contact, the group is larger
// than MaxGroupMembers, or the same was said less than Refresh ago. It
// reports whether it queued anything.
func (t *Typing) Send(g Target, typing bool) (bool, error) {
	if !t.c.Connected() || (g.Group != nil && len(g.Members) > MaxGroupMembers) {
		return false, nil
	}
	if on, err := t.Enabled(); err != nil || !on { // a read: off costs no commit
		return false, err
	}
	if !t.due(g.conversation(), typing) {
		return false, nil
	}
	var sent bool
	err := t.c.Update(func(tx *store.Tx) error {
		to := g.Members
		if g.Group == nil {
			if ok, err := core.IsContact(tx, g.Peer); err != nil || !ok {
				return err
			}
			to = []string{g.Peer}
		}
		for _, peer := range to {
			if err := t.enqueue(tx, peer, g.Group, typing); err != nil {
				return err
			}
		}
		sent = len(to) > 0
		return nil
	})
	if err != nil || !sent {
		t.forget(g.conversation(), typing)
		return false, err
	}
	t.c.KickOutbox()
	return true, nil
}

// due says whether an indicator should go now, and records it.
func (t *Typing) due(conv string, typing bool) bool {
	now := t.c.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	last, started := t.sent[conv]
	if !typing {
		delete(t.sent, conv)
		return started
	}
	if started && now.Sub(last) < Refresh && now.Sub(last) >= 0 {
		return false
	}
	t.sent[conv] = now
	return true
}

// forget undoes due's record when nothing went.
func (t *Typing) forget(conv string, typing bool) {
	if typing {
		t.mu.Lock()
		delete(t.sent, conv)
		t.mu.Unlock()
	}
}

func (t *Typing) enqueue(tx *store.Tx, peer string, group *content.GroupID, typing bool) error {
	self := t.c.Self()
	now := t.c.Now().Truncate(time.Millisecond)
	ct := &content.Content{Version: content.Version, Sender: self.Name, SenderDevice: self.DeviceID, Recipient: peer,
		ID: core.NewContentID(), SentAt: now, Kind: content.KindTyping, Typing: typing, AccessKey: t.c.AccessKey()}
	if group != nil {
		ct.GroupID = *group
	}
	body, err := content.Encode(ct)
	if err != nil {
		return err
	}
	return tx.Enqueue(&store.Outgoing{To: peer, Payload: core.EncodeOutItem(core.OutItem{Content: body}), CreatedAt: now})
}

// Receive turns an indicator peer sent into a TypingEvent: known says
// whether peer is a contact (1:1) or a member of the group ct names (the
// caller checked). Anything else, a late one, or any while indicators are
// off, is ignored without a trace: an indicator is worth nothing later.
func (t *Typing) Receive(tx *store.Tx, peer string, known bool, ct *content.Content, b *core.Batch) error {
	if !known {
		return nil
	}
	if on, err := enabled(tx); err != nil || !on {
		return err
	}
	if age := b.Now.Sub(ct.SentAt); age > Expiry || age < -Expiry {
		return nil
	}
	ev := &core.TypingEvent{Peer: peer, Typing: ct.Typing}
	if ct.Typing {
		ev.Until = b.Now.Add(Expiry)
	}
	if ct.GroupID != (content.GroupID{}) {
		ev.Group = ct.GroupID.String()
	}
	if !t.rx.allow(ev.Group+"\x00"+peer, ct.Typing, b.Now) {
		return nil
	}
	b.Events = append(b.Events, ev)
	return nil
}
