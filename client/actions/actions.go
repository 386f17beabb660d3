// Package actions is what a user does to a message already in a
// conversation: reply to it (quote it), react to it, edit it, delete it for
// everyone. Each action is a Content of its own kind (content.KindReaction,
// KindEdit, KindDelete, or a text's Quote) sent in the author's 1:1 session
// with each recipient — in a group, with each member — so the server sees
// nothing new and only the session's authenticated sender can make one.
//
// What an action changes is kept in the target message's own store record
// (package annex), under the message's key: reactions and edits disappear
// with the message, by its timer or by a deletion for everyone, which
// destroys the message exactly as the timer does (its key first).
//
// Only the author may edit or delete a message, within EditLimit and
// DeleteLimit of sending it (by the author's clock); an edit or deletion by
// anyone else, or an action on a message this device does not have, is
// refused with a DroppedEvent that says why.
package actions

import (
	"errors"
	"fmt"
	"time"

	"github.com/skymsg/sky/client/actions/annex"
	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
)

// Limits of edits and deletions, counted from the message's sending.
const (
	EditLimit   = 24 * time.Hour
	DeleteLimit = 24 * time.Hour
)

// Errors of the user's own actions.
var (
	ErrNoSuchMessage = errors.New("no such message in this conversation (it may have disappeared); check the message ID (sky history)")
	ErrNotAuthor     = errors.New("only the author of a message can edit or delete it")
	ErrTooLate       = errors.New("too late: a message can be edited or deleted for everyone only within 24 hours of sending it")
	ErrNotText       = errors.New("only a text message can be edited")
	ErrBadEmoji      = errors.New("a reaction is one emoji (at most 32 bytes)")
)

// Actions is the concern.
type Actions struct{ c *core.Core }

// New makes the concern on a core.
func New(c *core.Core) *Actions { return &Actions{c: c} }

// Target is the conversation an action is in: a 1:1 conversation (Peer)
// or a group (Group set, Members the members the user sends to).
type Target struct {
	Peer    string
	Group   *content.GroupID
	Members []string
}

func (t Target) conversation() string {
	if t.Group != nil {
		return t.Group.String()
	}
	return t.Peer
}

func (t Target) recipients() []string {
	if t.Group != nil {
		return t.Members
	}
	return []string{t.Peer}
}

// Quote makes the quote of message id of the conversation, for a reply.
func (a *Actions) Quote(t Target, id string) (*content.Quote, error) {
	mid, err := content.ParseID(id)
	if err != nil {
		return nil, ErrNoSuchMessage
	}
	var q *content.Quote
	err = a.c.View(func(tx *store.Tx) error {
		m, err := find(tx, t.conversation(), id, a.c.Now())
		if err != nil {
			return err
		}
		ct, err := content.Decode(m.Body)
		if err != nil {
			return fmt.Errorf("%w: a stored message does not decode", store.ErrCorrupt)
		}
		q = &content.Quote{ID: mid, Excerpt: content.Excerpt(ct.Text)}
		return nil
	})
	return q, err
}

// Act carries out the user's own action on message id of the
// conversation: it takes effect here at once and is queued for every
// recipient.
func (a *Actions) Act(t Target, kind content.Kind, id, value string) error {
	mid, err := content.ParseID(id)
	if err != nil {
		return ErrNoSuchMessage
	}
	if kind == content.KindReaction && (len(value) > content.MaxEmojiBytes || !validEmoji(value)) {
		return ErrBadEmoji
	}
	if kind == content.KindEdit && (value == "" || len(value) > content.MaxTextBytes) {
		return fmt.Errorf("an edit needs a new text of 1 to %d bytes", content.MaxTextBytes)
	}
	now := a.c.Now().Truncate(time.Millisecond)
	var ev core.Event
	err = a.c.Update(func(tx *store.Tx) error {
		m, err := find(tx, t.conversation(), id, now)
		if err != nil {
			return err
		}
		if kind != content.KindReaction {
			if !m.Outgoing {
				return ErrNotAuthor
			}
			if now.Sub(m.SentAt) > limit(kind) {
				return ErrTooLate
			}
		}
		ct := content.Content{Kind: kind, Target: mid, Text: value}
		if t.Group != nil {
			ct.GroupID = *t.Group
		}
		if ev, err = a.apply(tx, m, a.c.ID(), &ct, now, now); err != nil {
			return err
		}
		for _, to := range t.recipients() {
			one := ct
			if err := a.c.EnqueueControl(tx, to, &one); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.c.KickOutbox()
	a.c.Emit(ev)
	return nil
}

// Apply applies an action that peer sent: conv is the conversation it
// names (peer's 1:1 conversation, or a group the caller checked peer is a
// member of). Whatever it makes of it, the action's sequence number counts
// in the conversation with peer.
func (a *Actions) Apply(tx *store.Tx, peer, conv string, ct *content.Content, b *core.Batch) error {
	if why, err := a.receive(tx, peer, conv, ct, b); err != nil {
		return err
	} else if why != "" {
		b.Drop(peer, why)
	}
	return a.c.Track(tx, peer, ct.Seq, 0, b)
}

func (a *Actions) receive(tx *store.Tx, peer, conv string, ct *content.Content, b *core.Batch) (drop string, err error) {
	m, err := find(tx, conv, ct.Target.String(), b.Now)
	if errors.Is(err, ErrNoSuchMessage) {
		return fmt.Sprintf("a %s of a message this device does not have (it disappeared, or never existed)", ct.Kind), nil
	}
	if err != nil {
		return "", err
	}
	if ct.Kind != content.KindReaction {
		switch {
		case m.Outgoing || m.Sender != peer:
			return fmt.Sprintf("a forged %s: %s is not the message's author", ct.Kind, peer), nil
		case ct.SentAt.Sub(m.SentAt) > limit(ct.Kind):
			return fmt.Sprintf("a %s later than the limit after sending", ct.Kind), nil
		}
	}
	ev, err := a.apply(tx, m, peer, ct, ct.SentAt, b.Now)
	if err == nil && ev != nil {
		b.Events = append(b.Events, ev)
	}
	return "", err
}

// apply makes the action by `by`, sent at `at`, take effect on m. It
// returns the event to show (nil when an older action changed nothing).
func (a *Actions) apply(tx *store.Tx, m store.Message, by string, ct *content.Content, at, now time.Time) (core.Event, error) {
	ev := &core.ActionEvent{Conversation: m.Conversation, MessageID: m.MessageID, By: by, Action: ct.Kind.String()}
	if ct.Kind == content.KindDelete {
		return ev, tx.DeleteMessage(m.ID)
	}
	ax, err := annex.Decode(m.Annex)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", store.ErrCorrupt, err)
	}
	switch ct.Kind {
	case content.KindReaction:
		if !ax.React(by, ct.Text, at) {
			return nil, nil
		}
		ev.Emoji = ct.Text
	case content.KindEdit:
		if at.Before(ax.LastEdit()) {
			return nil, nil
		}
		orig, err := content.Decode(m.Body)
		if err != nil {
			return nil, fmt.Errorf("%w: a stored message does not decode", store.ErrCorrupt)
		}
		if orig.Kind != content.KindText && orig.Kind != content.KindGroupText && orig.Kind != content.KindBroadcastText {
			return nil, ErrNotText
		}
		ax.Replaced(orig.Text, at, now)
		orig.Text = ct.Text
		if m.Body, err = content.Encode(orig); err != nil {
			return nil, err
		}
		ev.Text = ct.Text
	}
	m.Annex = ax.Encode()
	return ev, tx.UpdateMessage(m)
}

// find returns message id of conv, unless it is gone or expired.
func find(tx *store.Tx, conv, id string, now time.Time) (store.Message, error) {
	m, err := tx.FindMessage(conv, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !m.ExpiresAt.IsZero() && !m.ExpiresAt.After(now)) {
		return store.Message{}, ErrNoSuchMessage
	}
	return m, err
}

func limit(k content.Kind) time.Duration {
	if k == content.KindDelete {
		return DeleteLimit
	}
	return EditLimit
}

// validEmoji accepts what content.Check accepts for a reaction: empty (a
// removal) or a short string of up to 10 characters.
func validEmoji(s string) bool {
	n := 0
	for range s {
		n++
	}
	return n <= 10
}
