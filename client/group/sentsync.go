package group

import (
	"errors"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
)

// ApplySentText stores a group text another device of the account sent
// (inner, checked by core.SentSyncInner; body, its encoding), as that
// device's sent-message sync carries it, in the group's history here. A
// text for a group this device does not know, or the user is not in, is
// dropped with a note: the group itself reaches a device through the
// group's own changes, not through a sync.
func (g *Groups) ApplySentText(tx *store.Tx, body []byte, inner *content.Content, b *core.Batch) error {
	self, id := g.self(), inner.GroupID
	r, err := loadGroup(tx, id)
	switch {
	case err != nil:
		return err
	case r == nil || !r.Member(self):
		b.Drop(self, "a group text sent from your other device, for a group this device does not know or you are not in")
		return nil
	}
	if _, err := tx.FindMessage(id.String(), inner.ID.String()); err == nil {
		return nil // had it already
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := ensureGroupConversation(tx, &r.State, b.Now); err != nil {
		return err
	}
	m := store.Message{Conversation: id.String(), Sender: self, MessageID: inner.ID.String(), Outgoing: true, State: store.Sent,
		Body: body, SentAt: inner.SentAt, Timer: inner.Timer}
	if err := tx.AddMessage(&m); err != nil {
		return err
	}
	msg, err := core.FromStore(m, false)
	if err != nil {
		return err
	}
	msg.GroupName = r.State.Name
	b.Events = append(b.Events, &core.MessageEvent{Message: msg})
	return nil
}
