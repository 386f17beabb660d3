package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/protostore"
	"github.com/skymsg/sky/client/requests"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/wire"
	"google.golang.org/protobuf/proto"
)

// Receiving, top to bottom. The core stores each push in one transaction
// and acknowledges it after (package client/core, receive.go); for each
// envelope it calls receiveOne, the one place that decides what the
// envelope is and which package owns it:
//
//  1. who sent it: the core unwraps it (the sealed envelope's certificate;
//     an envelope that is not sealed is dropped) and checks the device was
//     announced;
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
	b.Device = in.Dev
	if drop != "" {
		b.Drop(in.Peer, drop)
		return nil
	}
	if ok, err := core.Announced(tx, in.Peer, in.Dev); err != nil || !ok {
		// Not on the sender's signed list as this client knows it: once
		// the list was fetched again (the core does that after the push),
		// a device still not on it is refused.
		if err == nil && !b.Recheck(in.Peer, env) {
			b.Events = append(b.Events, &UnannouncedDeviceEvent{Peer: in.Peer, Device: in.Dev})
		}
		return err
	}
	if in.Peer == c.core.ID() {
		return c.receiveOwn(ctx, tx, ps, in, b)
	}
	if blocked, err := core.IsBlocked(tx, in.Peer); err != nil || blocked {
		// Rejected by the user: dropped without a trace, but for a group
		// the user is in, where the gap would puzzle.
		if err == nil && in.IsGroupMessage() && in.CertKey != nil {
			var note string
			if note, err = c.groups.BlockedSenderNote(tx, in.Raw[1:], in.Peer); note != "" {
				b.Drop(in.Peer, note)
			}
		}
		return err
	}
	switch {
	case in.IsGroupMessage():
		if in.CertKey == nil {
			b.Drop(in.Peer, "a group message outside a sealed envelope")
			return nil
		}
		if ok, err := c.broadcast.ReceiveMessage(ctx, tx, ps, in.Peer, in.Dev, in.Raw[1:], *in.CertKey, b); err != nil || ok {
			return err // a contact's broadcast (client/broadcast)
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
		// that names its sender truthfully: a key change to decide on —
		// for someone the client keeps anything of.
		if ok, err := c.knows(tx, in.Peer); err != nil || !ok {
			if err == nil {
				b.Drop(in.Peer, "a first message under a new key from someone who is neither a contact, a message request nor in a group with you")
			}
			return err
		}
		return c.trust.HoldChanged(tx, in.Peer, in.Dev, env, in.Raw, b)
	}
	if keep, err := c.admit(tx, in.Peer, env, ct, b); err != nil || !keep {
		ps.Discard() // nothing of a stranger's but what starts a request
		return err
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
	case ct.Kind == content.KindDeviceNotice:
		b.Drop(in.Peer, "a device notice, which a client only makes for itself")
		return nil
	case ct.Kind == content.KindDevicesChanged:
		// Keep noted the version; the list is fetched after the push.
		return c.core.Track(tx, in.Peer, ct.Seq, 0, b)
	case ct.Kind == content.KindReceipt && ct.GroupID != content.GroupID{}:
		return c.groups.ApplyReceipt(tx, in.Peer, ct, b)
	case ct.Kind == content.KindReceipt:
		return c.core.ApplyReceipt(tx, in.Peer, ct, b)
	case ct.Kind == content.KindGroupReceipts:
		return c.groups.ApplyReceiptsSetting(tx, in.Peer, ct, b)
	case ct.Kind == content.KindBroadcastKey:
		return c.broadcast.ApplyKey(tx, in.Peer, ct, b)
	case content.IsGroup(ct.Kind):
		return c.applyGroupControl(ctx, tx, ps, in.Peer, ct, b)
	case content.IsAction(ct.Kind):
		return c.applyAction(tx, in.Peer, ct, b)
	case ct.Kind == content.KindProfile:
		return c.applyProfile(tx, in.Peer, ct, b)
	case ct.Kind == content.KindAccessRequest:
		// A contact whose token of ours the server refused asks for our
		// current key (Keep kept theirs): answered for contacts only.
		b.Queued = true
		return c.core.AnswerAccessRequest(tx, in.Peer)
	case ct.Kind == content.KindAccessKey:
		return nil // the key it carries was kept (Keep), which resumes sending
	case ct.Kind == content.KindTyping:
		return c.applyTyping(tx, in.Peer, ct, b)
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
		drop, err := c.groups.Room(tx, ct.GroupID)
		if err != nil || drop != "" {
			return drop, err
		}
		if in, err := c.groups.UserIn(tx, ct.GroupID); err != nil || in {
			return "", err
		}
		// An invitation from a stranger is a message request.
		return c.requests.Room(tx, peer)
	}
	return "", nil
}

// applyGroupControl hands group control content to package client/group;
// a stranger's invitation it accepted files the stranger as a request, and
// after a change what non-members sent for the group is received again.
func (c *Client) applyGroupControl(ctx context.Context, tx *store.Tx, ps *protostore.Stores, peer string, ct *content.Content, b *core.Batch) error {
	if err := c.groups.ApplyControl(tx, peer, ct, b); err != nil || ct.Kind != content.KindGroupUpdate {
		return err
	}
	inviter, err := c.groups.Invited(tx, ct.GroupID)
	if err != nil {
		return err
	}
	if inviter == peer {
		if err := c.requests.File(tx, peer, b.Now); err != nil {
			return err
		}
	}
	return c.receiveHeld(ctx, tx, ps, ct.GroupID, b)
}

// admit decides whether anything of content ct from peer may be kept
// (issue 10 item 7): from a contact, a waiting request or a member of the
// group it is about, yes; from anyone else only what starts a request or
// invites the user to a group (their bounds are room's), and a group's
// control content is held, as an envelope, until a change of the group may
// make them a member. Everything else is dropped here.
func (c *Client) admit(tx *store.Tx, peer string, env *wire.Envelope, ct *content.Content, b *core.Batch) (keep bool, err error) {
	if ok, err := core.IsContact(tx, peer); err != nil || ok {
		return ok, err
	}
	if ok, err := core.IsRequest(tx, peer); err != nil || ok {
		return ok, err
	}
	if requests.StartsRequest(ct.Kind) {
		return true, nil
	}
	if ct.Kind == content.KindGroupJoin {
		// Someone with a group's invite link asks to join (group/links.go).
		return c.groups.AdmitJoin(tx, peer, ct, b)
	}
	if ct.Kind == content.KindBroadcastKey {
		b.Drop(peer, "a broadcast list's key from someone who is not a contact")
		return false, nil
	}
	if !content.IsGroup(ct.Kind) && ct.GroupID == (content.GroupID{}) {
		b.Drop(peer, "a receipt or reaction from someone who is neither a contact nor a message request")
		return false, nil
	}
	if ok, err := c.groups.SharesWith(tx, ct.GroupID, peer); err != nil || ok {
		return ok, err
	}
	if !content.IsGroup(ct.Kind) {
		b.Drop(peer, "an action in a group from someone who is not in it with you")
		return false, nil
	}
	if ok, err := c.groups.Invites(tx, ct); err != nil || ok {
		return ok, err
	}
	if ok, err := c.groups.AdmitsRival(tx, peer, ct); err != nil || ok {
		return ok, err // an invitee confirming its copy (group/confirm.go)
	}
	raw, err := proto.Marshal(env)
	if err != nil {
		return false, fmt.Errorf("keeping an envelope: %w", err)
	}
	return false, c.groups.HoldEnvelope(tx, ct.GroupID, raw)
}

// receiveHeld receives again, in the same transaction, the envelopes held
// from non-members of a group that just changed.
func (c *Client) receiveHeld(ctx context.Context, tx *store.Tx, ps *protostore.Stores, id content.GroupID, b *core.Batch) error {
	held, err := c.groups.TakeEnvelopes(tx, id)
	for _, raw := range held {
		if err != nil {
			break
		}
		e := new(wire.Envelope)
		if proto.Unmarshal(raw, e) == nil {
			err = c.receiveOne(ctx, tx, ps, e, b)
		}
	}
	return err
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

// knows reports whether the client keeps anything of peer: a contact, a
// waiting request, or a member of a group the user is in.
func (c *Client) knows(tx *store.Tx, peer string) (bool, error) {
	if ok, err := core.IsContact(tx, peer); err != nil || ok {
		return ok, err
	}
	if ok, err := core.IsRequest(tx, peer); err != nil || ok {
		return ok, err
	}
	return c.groups.SharesAny(tx, peer)
}

// receiveOwn handles a message from another device of the account (on its
// signed list, checked before): only a sent-message sync, under the
// account's own identity key, is taken.
func (c *Client) receiveOwn(ctx context.Context, tx *store.Tx, ps *protostore.Stores, in core.Incoming, b *core.Batch) error {
	self := c.core.ID()
	if !in.IsSession() {
		b.Drop(self, "a group message from this account's own device")
		return nil
	}
	ct, _, changed, drop, err := c.core.Decrypt(ctx, ps, &in, b)
	switch {
	case err != nil:
		return err
	case changed:
		drop = "a message from this account's device under another identity key"
	}
	if drop == "" {
		own, err := c.core.FromOwnDevice(ps, in.Dev)
		if err != nil {
			return err
		}
		if !own {
			drop = "a message from this account's device under another identity key"
		}
	}
	if drop != "" {
		ps.Discard()
		b.Drop(self, drop)
		return nil
	}
	if fresh, err := c.core.Keep(tx, ps, self, ct, b); err != nil || !fresh {
		return err
	}
	switch ct.Kind {
	case content.KindSentSync:
		inner := c.core.SentSyncInner(ct, b)
		if inner != nil && inner.Kind == content.KindGroupText {
			if err := c.core.ApplySentSync(tx, ct, nil, b); err != nil { // only counted here
				return err
			}
			return c.groups.ApplySentText(tx, ct.Inner, inner, b)
		}
		if inner != nil && inner.Kind == content.KindTimerChange {
			conv, err := c.core.Conversation(tx, inner.Recipient, 0)
			if err != nil {
				return err
			}
			if applied, err := c.timers.ApplyOwn(tx, inner.Recipient, conv, inner, b); err != nil || !applied {
				if err == nil {
					err = c.core.ApplySentSync(tx, ct, nil, b) // an older change: only counted
				}
				return err
			}
		}
		return c.core.ApplySentSync(tx, ct, inner, b)
	case content.KindSettingsSync:
		rejected, err := c.core.ApplySettingsSync(tx, ct, b)
		for _, id := range rejected {
			if err == nil {
				err = c.rejectHere(tx, id)
			}
		}
		return err
	case content.KindProfile:
		return c.profiles.ApplyOwn(tx, ct, b)
	case content.KindGroupUpdate:
		return c.groups.ApplyOwn(tx, in.Dev, ct, b) // a group handed over after linking
	case content.KindReceipt:
		return nil // a receipt for a sync: nothing to show
	}
	b.Drop(self, "a message of a kind this account's devices do not send each other")
	return nil
}
