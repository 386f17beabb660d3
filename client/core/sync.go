package core

import (
	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/protostore"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
)

// Sent-message sync. A text this device sends also goes, end to end, to
// the account's other devices (those on its signed device list), as a
// KindSentSync carrying the text's own encoded content; each stores it as
// an outgoing message of the conversation it was sent in. Only the account's
// own devices, under its own identity key, can send one.

// syncSent queues ct (a text just queued to its recipient, encoded as
// body) to the account's other devices, if it has any.
func (c *Core) syncSent(tx *store.Tx, ct *content.Content, body []byte) error {
	if ct.Kind != content.KindText {
		return nil
	}
	devs, err := AnnouncedDevices(tx, c.acct.ID)
	if err != nil || len(devs) < 2 {
		return err
	}
	return c.EnqueueControl(tx, c.acct.ID, &content.Content{Kind: content.KindSentSync, Inner: body})
}

// FromOwnDevice reports whether the session a message from the account's
// own device dev decrypted under is under the account's own identity key:
// a device with another key (a server's forgery that slipped past the
// list) is not the account's.
func (c *Core) FromOwnDevice(ps *protostore.Stores, dev uint32) (bool, error) {
	k, ok, err := ps.PinnedIdentity(protocol.Address{Name: c.acct.ID, DeviceID: dev})
	return ok && k == c.Local.KeyPair.Public, err
}

// ApplySentSync stores a message another device of the account sent, as
// that device's KindSentSync carries it. A malformed one, or one that is
// not a text to someone else, is dropped.
func (c *Core) ApplySentSync(tx *store.Tx, ct *content.Content, b *Batch) error {
	self := c.acct.ID
	if err := c.Track(tx, self, ct.Seq, 0, b); err != nil {
		return err
	}
	inner, err := content.Decode(ct.Inner)
	switch {
	case err != nil:
		b.Drop(self, "a sent-message sync whose message does not decode")
		return nil
	case inner.Kind != content.KindText || inner.Sender != self || inner.Recipient == self || !ValidID(inner.Recipient):
		b.Drop(self, "a sent-message sync that is not a text this account sent to someone")
		return nil
	}
	peer := inner.Recipient
	if _, err := tx.FindMessage(peer, inner.ID.String()); err == nil {
		return nil // had it already
	}
	if err := AcceptPeer(tx, peer, b.Now); err != nil {
		return err
	}
	if _, err := c.Conversation(tx, peer, inner.Timer); err != nil {
		return err
	}
	m := store.Message{Conversation: peer, Sender: self, MessageID: inner.ID.String(), Outgoing: true, State: store.Sent,
		Body: ct.Inner, SentAt: inner.SentAt, Timer: inner.Timer}
	if err := tx.AddMessage(&m); err != nil {
		return err
	}
	msg, err := FromStore(m, false)
	if err != nil {
		return err
	}
	b.Events = append(b.Events, &MessageEvent{Message: msg})
	return nil
}
