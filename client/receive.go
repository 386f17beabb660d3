package client

import (
	"context"
	"errors"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/protostore"
	"github.com/skymsg/sky/client/requests"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/wire"
)

// Receiving, top to bottom. The core stores each push in one transaction
// and acknowledges it after (package client/core, receive.go); for each
// envelope it calls receiveOne, the one place that decides what the
// envelope is and which package owns it:
//
//  1. who sent it: the core unwraps it (a sealed envelope's certificate, or
//     an identified one's sender field) and checks the device was announced;
//  2. whether the user rejected the sender: then it is dropped unread;
//  3. a group text (a sender-key message): package client/group;
//  4. a 1:1 session message: the core decrypts it; a first message under a
//     changed identity key goes to package client/trust to wait for the
//     user;
//  5. from a stranger: package client/requests (or client/group, for an
//     invitation) decides whether there is room, before anything is kept;
//  6. the content, by kind: a receipt to the core, group control to
//     package client/group, a text or a timer change to the conversation
//     (package client/timers for the change, client/requests for a
//     stranger's message).
//
// Nothing here is trusted before it decrypts; the packages it hands to
// never call back up into this one.

// receiveOne handles one envelope. It returns an error only when the store
// fails; anything wrong with the envelope drops it.
func (c *Client) receiveOne(ctx context.Context, tx *store.Tx, ps *protostore.Stores, env *wire.Envelope, b *core.Batch) error {
	in, drop := c.core.Unwrap(env, b.Now)
	if drop != "" {
		b.Drop(in.Peer, drop)
		return nil
	}
	if !core.Announced(in.Peer, in.Dev) {
		b.Events = append(b.Events, &UnannouncedDeviceEvent{Peer: in.Peer, Device: in.Dev})
		return nil
	}
	if blocked, err := core.IsBlocked(tx, in.Peer); err != nil || blocked {
		return err // rejected by the user: dropped without a trace
	}
	switch {
	case in.IsGroupMessage():
		if in.CertKey == nil {
			b.Drop(in.Peer, "a group message outside a sealed envelope")
			return nil
		}
		return c.groups.ReceiveMessage(ctx, tx, ps, in.Peer, in.Dev, in.Raw[1:], *in.CertKey, b)
	case !in.IsSession():
		b.Drop(in.Peer, "an envelope of unknown type")
		return nil
	}
	ct, plain, changed, drop, err := c.core.Decrypt(ctx, ps, &in, b)
	switch {
	case err != nil:
		return err
	case drop != "":
		b.Drop(in.Peer, drop)
		return nil
	case changed:
		// A first message made with a key that is not the pinned one, and
		// that names its sender truthfully: a key change to decide on.
		return c.trust.HoldChanged(tx, in.Peer, in.Dev, env, in.Raw, b)
	}
	if drop, err := c.room(tx, in.Peer, ct); err != nil || drop != "" {
		ps.Discard() // no session with a stranger the user has no room for
		if err == nil {
			b.Drop(in.Peer, drop)
		}
		return err
	}
	if fresh, err := c.core.Keep(tx, ps, in.Peer, ct, b); err != nil || !fresh {
		return err
	}
	switch {
	case ct.Kind == content.KindReceipt:
		return c.core.ApplyReceipt(tx, in.Peer, ct, b)
	case content.IsGroup(ct.Kind):
		return c.groups.ApplyControl(tx, in.Peer, ct, b)
	case content.IsAction(ct.Kind):
		return c.applyAction(tx, in.Peer, ct, b)
	}
	return c.applyDirect(tx, in.Peer, ct, plain, b)
}

// room says why content from peer must be dropped before anything of it is
// kept: a stranger's message that would start a request, or a stranger's
// group invitation, when the user has no room for more.
func (c *Client) room(tx *store.Tx, peer string, ct *content.Content) (drop string, err error) {
	switch {
	case requests.StartsRequest(ct.Kind):
		return c.requests.Room(tx, peer)
	case ct.Kind == content.KindGroupUpdate:
		if ok, err := core.IsContact(tx, peer); err != nil || ok {
			return "", err
		}
		return c.groups.Room(tx, ct.GroupID)
	}
	return "", nil
}

// applyDirect makes a 1:1 text or timer change take effect in the
// conversation with peer: a stranger's goes under their request (within its
// bound), a contact's is acknowledged with a delivery receipt.
func (c *Client) applyDirect(tx *store.Tx, peer string, ct *content.Content, plain []byte, b *core.Batch) error {
	contact, err := core.IsContact(tx, peer)
	if err != nil {
		return err
	}
	if !contact {
		if drop, err := c.requests.Admit(tx, peer, b.Now); err != nil || drop != "" {
			if err == nil {
				b.Drop(peer, drop)
				err = c.core.Track(tx, peer, ct.Seq, 0, b)
			}
			return err
		}
	}
	// A new conversation takes the timer the sender uses (the account
	// default, if the first message is a timer change).
	timer := ct.Timer
	if ct.Kind == content.KindTimerChange {
		if _, err := tx.Conversation(peer); errors.Is(err, store.ErrNotFound) {
			if timer, err = core.AccountTimer(tx); err != nil {
				return err
			}
		}
	}
	conv, err := c.core.ConversationFor(tx, peer, timer, b.Now)
	if err != nil {
		return err
	}
	var msgID int64
	switch ct.Kind {
	case content.KindTimerChange:
		applied, err := c.timers.Apply(tx, peer, conv, ct, b)
		if err != nil {
			return err
		}
		if applied {
			if msgID, err = c.core.AddIncoming(tx, peer, ct, plain, ct.Timer, b); err != nil {
				return err
			}
		}
	case content.KindText:
		if msgID, err = c.core.AddIncoming(tx, peer, ct, plain, ct.Timer, b); err != nil {
			return err
		}
	}
	if contact {
		b.Deliver(peer, ct.ID)
	}
	return c.core.Track(tx, peer, ct.Seq, msgID, b)
}
