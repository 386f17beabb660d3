package client

import (
	"context"
	"errors"
	"slices"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/group"
	"github.com/skymsg/sky/client/protostore"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/senderkey"
)

// Receiving for groups. Group changes, departures and sender keys come
// inside 1:1 sessions (applyGroupControl), so their sender is the session's
// peer; group texts come as sender-key messages in sealed envelopes
// (receiveGroupMessage), whose certificate must vouch for the identity key
// pinned for the sender. Either is used only if its sender is an active
// member of the group as this client knows it; what comes before the group
// (or before the change adding the sender) is held, within bounds, and
// used once it can be.

// trackKey names the sequence of one member's texts in one group (for the
// sender-order release of receive.go).
func trackKey(id content.GroupID, member string) string { return id.String() + "/" + member }

// receiveGroupMessage handles a sealed sender-key message from peer's
// device dev, whose certificate vouches for certKey.
func (c *Client) receiveGroupMessage(ctx context.Context, tx *store.Tx, ps *protostore.Stores, peer string, dev uint32, skm []byte, certKey curve.PublicKey, b *batch) error {
	m, err := senderkey.ParseMessage(skm)
	if err != nil {
		b.drop(peer, "a malformed group message")
		return nil
	}
	id := content.GroupID(m.DistributionID)
	pinned, ok, err := ps.PinnedIdentity(protocol.Address{Name: peer, DeviceID: dev})
	switch {
	case err != nil:
		return err
	case !ok:
		// No session with the sender yet: their sender key (which
		// starts one) is still on its way. Held with the key the
		// certificate vouched for, which must be the one pinned then.
		return hold(tx, id, heldItem{Kind: heldMessage, Peer: peer, Dev: dev, Bytes: skm, At: b.now, Key: certKey.Bytes()})
	case pinned != certKey:
		b.drop(peer, "a group message whose certificate does not vouch for the sender's pinned identity key")
		return nil
	}
	return c.groupMessage(ctx, tx, id, peer, dev, skm, b)
}

// groupMessage decrypts and shows an authenticated sender-key message, or
// holds it until it can be read.
func (c *Client) groupMessage(ctx context.Context, tx *store.Tx, id content.GroupID, peer string, dev uint32, skm []byte, b *batch) error {
	r, err := loadGroup(tx, id)
	if err != nil {
		return err
	}
	switch {
	case r != nil && !r.Member(c.acct.ID):
		b.drop(peer, "a message for a group you are not in")
		return nil
	case r == nil || !r.Active(peer):
		return hold(tx, id, heldItem{Kind: heldMessage, Peer: peer, Dev: dev, Bytes: skm, At: b.now})
	}
	sks := newSKStore(tx)
	padded, err := senderkey.Decrypt(ctx, sks, protocol.Address{Name: peer, DeviceID: dev}, skm)
	switch {
	case errors.Is(err, protocol.ErrNoSession):
		// Its sender key is still on its way (or was lost with a drop).
		return hold(tx, id, heldItem{Kind: heldMessage, Peer: peer, Dev: dev, Bytes: skm, At: b.now})
	case errors.Is(err, protocol.ErrDuplicateMessage):
		b.drop(peer, "a group message delivered twice")
		return nil
	case err != nil && !isProtocolError(err):
		return err
	case err != nil:
		b.drop(peer, "a group message that does not decrypt")
		return nil
	}
	plain, err := content.Unpad(padded)
	var ct *content.Content
	if err == nil {
		ct, err = content.Decode(plain)
	}
	switch {
	case errors.Is(err, content.ErrUnsupported):
		b.drop(peer, "a group message in a newer format; upgrade Sky")
		return nil
	case err != nil:
		b.drop(peer, "a group message with malformed content")
		return nil
	case ct.Kind != content.KindGroupText || ct.Sender != peer || ct.SenderDevice != dev || ct.GroupID != id:
		b.drop(peer, "a group message whose sender, kind or group inside differs from its envelope")
		return nil
	}
	fresh, err := tx.MarkSeen("gmsg/"+trackKey(id, peer)+"/"+ct.ID.String(), b.now)
	if err != nil || !fresh {
		if err == nil {
			b.drop(peer, "a group message delivered twice")
		}
		return err
	}
	if err := sks.commit(); err != nil {
		return err
	}
	if err := ensureGroupConversation(tx, &r.State, b.now); err != nil {
		return err
	}
	msg := store.Message{Conversation: id.String(), Sender: peer, MessageID: ct.ID.String(), State: store.Received,
		Body: plain, SentAt: ct.SentAt, ReceivedAt: b.now, Timer: ct.Timer}
	if err := tx.AddMessage(&msg); err != nil {
		return err
	}
	b.added[msg.ID] = msg
	return c.track(tx, trackKey(id, peer), ct.Seq, msg.ID, b)
}

// applyGroupControl applies a group content that came through peer's 1:1
// session. Whatever the group makes of it, its sequence number counts in
// the conversation with peer.
func (c *Client) applyGroupControl(tx *store.Tx, peer string, ct *content.Content, b *batch) error {
	dev := ct.SenderDevice
	var err error
	switch ct.Kind {
	case content.KindGroupUpdate:
		err = c.applyGroupUpdate(tx, peer, dev, ct, b)
	case content.KindGroupLeave:
		err = c.applyGroupLeave(tx, peer, ct.GroupID, b)
	case content.KindSenderKey:
		err = c.applySenderKey(tx, peer, heldItem{Kind: heldSenderKey, Peer: peer, Dev: dev, Bytes: ct.Distribution, Next: ct.NextSeq, At: b.now}, ct.GroupID, b)
	default:
		b.drop(peer, "a group text or notice outside a sender-key message")
	}
	if err != nil {
		return err
	}
	return c.track(tx, peer, ct.Seq, 0, b)
}

// forgeryHint explains a refused change whose author claims to be an admin
// of a group the user is in, which the user's copy does not show. A
// newcomer takes the first copy of a group that reaches it (there is no
// server to ask), so either that author or whoever the user joined from
// may hold a forged copy; only the people can tell.
func forgeryHint(r *group.Record, ch group.Change, author, self string, err error) string {
	if !errors.Is(err, group.ErrNotAdmin) || !r.Member(self) || !ch.IsAdmin(author) || !ch.IsMember(self) {
		return ""
	}
	return ". " + author + " claims to be an admin of this group, which your copy of it does not show: one of the two copies may be forged; " +
		"compare the group's admins and members with " + author + " and with whoever added you"
}

// applyGroupUpdate judges a group's new state sent by peer (package
// client/group says what is accepted); a refused change changes nothing and
// shows nothing.
func (c *Client) applyGroupUpdate(tx *store.Tx, peer string, dev uint32, ct *content.Content, b *batch) error {
	r, err := loadGroup(tx, ct.GroupID)
	if err != nil {
		return err
	}
	g := ct.Group
	ch := group.Change{Author: peer, State: group.State{ID: ct.GroupID, Version: g.Version, Name: g.Name,
		Members: g.Members, Admins: g.Admins, Timer: ct.Timer}}
	next, out, err := group.Apply(r, ch, c.acct.ID)
	switch {
	case errors.Is(err, group.ErrDuplicate):
	case err != nil:
		b.drop(peer, "a group change was refused: "+err.Error()+forgeryHint(r, ch, peer, c.acct.ID, err))
	default:
		if err := c.afterChange(tx, r, next, out, peer, b); err != nil {
			return err
		}
		if err := keepGroupAccess(tx, c.acct.ID, g.AccessKeys); err != nil {
			return err
		}
		if r != nil && r.Author == c.acct.ID && r.Base != nil && r.State.Version == next.State.Version {
			// The user's own change lost to a concurrent one: make it
			// again on top of the winner (what is left of it).
			if ch, err := next.Redo(c.acct.ID, r.Base, &r.State); err == nil {
				if next, err = c.commitChange(tx, next, ch, b); err != nil {
					return err
				}
			}
		}
		r = next
	}
	if len(g.Distribution) > 0 && r != nil {
		it := heldItem{Kind: heldSenderKey, Peer: peer, Dev: dev, Bytes: g.Distribution, Next: g.NextSeq, At: b.now}
		if err := c.applySenderKey(tx, peer, it, ct.GroupID, b); err != nil {
			return err
		}
	}
	if err == nil && next != nil {
		if err := c.removeDeparted(tx, next, b); err != nil {
			return err
		}
		return c.useHeld(tx, ct.GroupID, b)
	}
	return nil
}

// keepGroupAccess records the access keys a group update shares, for
// members whose own key the client does not have: the key a member gave
// the client itself is never replaced.
func keepGroupAccess(tx *store.Tx, self string, keys []content.MemberKey) error {
	for _, k := range keys {
		if k.ID == self {
			continue
		}
		old, err := setting(tx, setPeerAccess+k.ID)
		if err != nil {
			return err
		}
		if old == nil {
			if err := tx.SetSetting(setPeerAccess+k.ID, k.Key); err != nil {
				return err
			}
		}
	}
	return nil
}

// applyGroupLeave: peer leaves a group. Nothing goes to them from now on;
// an admin removes them.
func (c *Client) applyGroupLeave(tx *store.Tx, peer string, id content.GroupID, b *batch) error {
	r, err := loadGroup(tx, id)
	if err != nil {
		return err
	}
	if r == nil {
		b.drop(peer, "a departure from a group this client does not know")
		return nil
	}
	next, out, err := r.Depart(peer, c.acct.ID)
	if err != nil {
		if !errors.Is(err, group.ErrDuplicate) {
			b.drop(peer, "a departure from a group they are not in")
		}
		return nil
	}
	if err := c.afterChange(tx, r, next, out, peer, b); err != nil {
		return err
	}
	return c.removeDeparted(tx, next, b)
}

// removeDeparted: an admin removes members who left on their own, with a
// change (every admin may; concurrent removals settle on one).
func (c *Client) removeDeparted(tx *store.Tx, r *group.Record, b *batch) error {
	if len(r.Departed) == 0 || !r.Member(c.acct.ID) || !r.State.IsAdmin(c.acct.ID) {
		return nil
	}
	gone := slices.Clone(r.Departed)
	ch, err := r.Propose(c.acct.ID, func(s *group.State) {
		s.Members = slices.DeleteFunc(s.Members, func(m string) bool { return slices.Contains(gone, m) })
	})
	if err != nil {
		return nil // nothing to do (or no admin right)
	}
	_, err = c.commitChange(tx, r, ch, b)
	return err
}

// applySenderKey records peer's sender key for a group (it: the key as it
// came), if peer is an active member; otherwise it is held until they are.
func (c *Client) applySenderKey(tx *store.Tx, peer string, it heldItem, id content.GroupID, b *batch) error {
	r, err := loadGroup(tx, id)
	if err != nil {
		return err
	}
	if r != nil && !r.Member(c.acct.ID) {
		b.drop(peer, "a sender key for a group you are not in")
		return nil
	}
	used, err := c.useSenderKey(tx, r, id, it, b)
	if err != nil || !used {
		return err
	}
	return c.useHeld(tx, id, b)
}

// useSenderKey processes a sender key of an active member, and tells where
// their texts start: nothing before the key's next sequence number is
// missing (a new member cannot read what came before). A sender key of
// someone who is not (yet) an active member is held; a malformed one is
// dropped. It reports whether the key was used.
func (c *Client) useSenderKey(tx *store.Tx, r *group.Record, id content.GroupID, it heldItem, b *batch) (bool, error) {
	if r == nil || !r.Active(it.Peer) {
		return false, hold(tx, id, it)
	}
	dm, err := senderkey.ParseDistributionMessage(it.Bytes)
	if err != nil || content.GroupID(dm.DistributionID) != id {
		b.drop(it.Peer, "a malformed sender key, or one for another group")
		return false, nil
	}
	sks := newSKStore(tx)
	if err := senderkey.ProcessDistribution(context.Background(), sks, protocol.Address{Name: it.Peer, DeviceID: it.Dev}, dm); err != nil {
		return false, err
	}
	if err := sks.commit(); err != nil {
		return false, err
	}
	if it.Next > 1 {
		key := trackKey(id, it.Peer)
		in, err := b.inState(tx, key)
		if err != nil {
			return false, err
		}
		if in.Upto < it.Next-1 {
			in.Upto = it.Next - 1
			absorb(in, key, b)
		}
	}
	return true, nil
}

// useHeld tries again what was held for a group, until nothing more can
// be used; what still cannot stays held (until it is too old).
func (c *Client) useHeld(tx *store.Tx, id content.GroupID, b *batch) error {
	for {
		items, err := loadHeld(tx, id)
		if err != nil || len(items) == 0 {
			return err
		}
		if err := saveHeld(tx, id, nil); err != nil {
			return err
		}
		before := len(items)
		var sks, msgs []heldItem
		for _, it := range items {
			if b.now.Sub(it.At) > heldGroupTTL {
				continue
			}
			if it.Kind == heldSenderKey {
				sks = append(sks, it)
			} else {
				msgs = append(msgs, it)
			}
		}
		// Sender keys first, without recursing into useHeld; messages after.
		for _, it := range sks {
			if err := c.heldSenderKey(tx, id, it, b); err != nil {
				return err
			}
		}
		for _, it := range msgs {
			if len(it.Key) > 0 {
				pinned, ok, err := protostore.Pinned(tx, protocol.Address{Name: it.Peer, DeviceID: it.Dev})
				switch {
				case err != nil:
					return err
				case !ok:
					if err := hold(tx, id, it); err != nil {
						return err
					}
					continue
				case string(pinned.Bytes()) != string(it.Key):
					b.drop(it.Peer, "a group message whose certificate does not vouch for the sender's pinned identity key")
					continue
				}
			}
			if err := c.groupMessage(context.Background(), tx, id, it.Peer, it.Dev, it.Bytes, b); err != nil {
				return err
			}
		}
		after, err := loadHeld(tx, id)
		if err != nil || len(after) >= before {
			return err // no progress: the rest waits
		}
	}
}

// heldSenderKey is applySenderKey for a held item, which re-holds it if it
// still cannot be used, and leaves the held messages to useHeld.
func (c *Client) heldSenderKey(tx *store.Tx, id content.GroupID, it heldItem, b *batch) error {
	r, err := loadGroup(tx, id)
	if err != nil || (r != nil && !r.Member(c.acct.ID)) {
		return err
	}
	_, err = c.useSenderKey(tx, r, id, it, b)
	return err
}
