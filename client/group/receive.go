package group

import (
	"context"
	"errors"
	"slices"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
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

// ReceiveMessage handles a sealed sender-key message from peer's
// device dev, whose certificate vouches for certKey.
func (g *Groups) ReceiveMessage(ctx context.Context, tx *store.Tx, ps *protostore.Stores, peer string, dev uint32, skm []byte, certKey curve.PublicKey, b *core.Batch) error {
	m, err := senderkey.ParseMessage(skm)
	if err != nil {
		b.Drop(peer, "a malformed group message")
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
		return hold(tx, id, heldItem{Kind: heldMessage, Peer: peer, Dev: dev, Bytes: skm, At: b.Now, Key: certKey.Bytes()})
	case pinned != certKey:
		b.Drop(peer, "a group message whose certificate does not vouch for the sender's pinned identity key")
		return nil
	}
	return g.groupMessage(ctx, tx, id, peer, dev, skm, b)
}

// groupMessage decrypts and shows an authenticated sender-key message, or
// holds it until it can be read.
func (g *Groups) groupMessage(ctx context.Context, tx *store.Tx, id content.GroupID, peer string, dev uint32, skm []byte, b *core.Batch) error {
	r, err := loadGroup(tx, id)
	if err != nil {
		return err
	}
	switch {
	case r != nil && !r.Member(g.self()):
		b.Drop(peer, "a message for a group you are not in")
		return nil
	case r == nil || !r.Active(peer):
		return hold(tx, id, heldItem{Kind: heldMessage, Peer: peer, Dev: dev, Bytes: skm, At: b.Now})
	}
	sks := newSKStore(tx)
	padded, err := senderkey.Decrypt(ctx, sks, protocol.Address{Name: peer, DeviceID: dev}, skm)
	switch {
	case errors.Is(err, protocol.ErrNoSession):
		// Its sender key is still on its way (or was lost with a drop).
		return hold(tx, id, heldItem{Kind: heldMessage, Peer: peer, Dev: dev, Bytes: skm, At: b.Now})
	case errors.Is(err, protocol.ErrDuplicateMessage):
		b.Drop(peer, "a group message delivered twice")
		return nil
	case err != nil && !core.IsProtocolError(err):
		return err
	case err != nil:
		b.Drop(peer, "a group message that does not decrypt")
		return nil
	}
	plain, ct, err := content.Open(padded)
	switch {
	case errors.Is(err, content.ErrUnsupported):
		b.Drop(peer, "a group message in a newer format; upgrade Sky")
		return nil
	case err != nil:
		b.Drop(peer, "a group message with malformed content")
		return nil
	case ct.Kind == content.KindGroupUpdate && ct.Recipient == "" && ct.Sender == peer && ct.SenderDevice == dev && ct.GroupID == id:
		return g.sharedUpdate(tx, sks, id, peer, dev, ct, b) // updatev2.go
	case ct.Kind != content.KindGroupText || ct.Sender != peer || ct.SenderDevice != dev || ct.GroupID != id:
		b.Drop(peer, "a group message whose sender, kind or group inside differs from its envelope")
		return nil
	}
	fresh, err := tx.MarkSeen("gmsg/"+core.TrackKey(id, peer)+"/"+ct.ID.String(), b.Now)
	if err != nil || !fresh {
		if err == nil {
			b.Drop(peer, "a group message delivered twice")
		}
		return err
	}
	if err := sks.commit(); err != nil {
		return err
	}
	if inviter, err := invitedBy(tx, id); err != nil {
		return err
	} else if inviter != "" {
		if drop, err := g.requestFull(tx, id, inviter, b.Now); err != nil || drop != "" {
			if err == nil {
				b.Drop(peer, drop)
				err = g.c.Track(tx, core.TrackKey(id, peer), ct.Seq, 0, b)
			}
			return err
		}
	}
	if err := ensureGroupConversation(tx, &r.State, b.Now); err != nil {
		return err
	}
	msg := store.Message{Conversation: id.String(), Sender: peer, MessageID: ct.ID.String(), State: store.Received,
		Body: plain, SentAt: ct.SentAt, ReceivedAt: b.Now, Timer: ct.Timer}
	if err := tx.AddMessage(&msg); err != nil {
		return err
	}
	b.Added[msg.ID] = msg
	if r.Proof != nil && string(ct.GroupHead) == string(r.HeadBytes()) {
		if err := g.confirmedBy(tx, r, peer); err != nil {
			return err
		}
	}
	if err := g.checkHead(tx, r, peer, ct.GroupHead, b); err != nil {
		return err
	}
	if err := g.confirm(tx, r, peer, ct.ID, b); err != nil {
		return err
	}
	return g.c.Track(tx, core.TrackKey(id, peer), ct.Seq, msg.ID, b)
}

// ApplyControl applies a group content that came through peer's 1:1
// session. Whatever the group makes of it, its sequence number counts in
// the conversation with peer.
func (g *Groups) ApplyControl(tx *store.Tx, peer string, ct *content.Content, b *core.Batch) error {
	dev := ct.SenderDevice
	var err error
	switch ct.Kind {
	case content.KindGroupUpdate:
		err = g.applyGroupUpdate(tx, peer, dev, ct, b)
	case content.KindGroupLeave:
		err = g.applyGroupLeave(tx, peer, ct.GroupID, b)
	case content.KindSenderKey:
		err = g.applySenderKey(tx, peer, heldItem{Kind: heldSenderKey, Peer: peer, Dev: dev, Bytes: ct.Distribution, Next: ct.NextSeq, At: b.Now}, ct.GroupID, b)
	case content.KindGroupSync:
		err = g.applySync(tx, peer, ct, b)
	case content.KindGroupJoin:
		err = g.applyJoin(tx, peer, ct, b)
	default:
		b.Drop(peer, "a group text or notice outside a sender-key message")
	}
	if err != nil {
		return err
	}
	return g.c.Track(tx, peer, ct.Seq, 0, b)
}

// forgeryHint explains a refused change whose author claims to be an admin
// of a group the user is in, which the user's copy does not show. A
// newcomer takes the first copy of a group that reaches it (there is no
// server to ask), so either that author or whoever the user joined from
// may hold a forged copy; only the people can tell.
func forgeryHint(r *Record, ch Change, author, self string, err error) string {
	if !errors.Is(err, ErrNotAdmin) || !r.Member(self) || !ch.IsAdmin(author) || !ch.IsMember(self) {
		return ""
	}
	return ". " + author + " claims to be an admin of this group, which your copy of it does not show: one of the two copies may be forged; " +
		"compare the group's admins and members with " + author + " and with whoever added you"
}

// applyGroupUpdate judges a group's new state sent by peer (package
// client/group says what is accepted); a refused change changes nothing and
// shows nothing.
func (g *Groups) applyGroupUpdate(tx *store.Tx, peer string, dev uint32, ct *content.Content, b *core.Batch) error {
	r, err := loadGroup(tx, ct.GroupID)
	if err != nil {
		return err
	}
	body := ct.Group
	ch := Change{Author: peer, State: State{ID: ct.GroupID, Version: body.Version, Name: body.Name,
		Members: body.Members, Admins: body.Admins, Timer: ct.Timer, Link: body.Link}}
	var next *Record
	var out Outcome
	if len(body.Proof) > 0 {
		ch.Proof, err = ParseProof(body.Proof)
	}
	if err == nil {
		ch.Ancestry, err = ParseAncestry(body.Ancestry)
	}
	if err == nil {
		next, out, err = ApplySigned(r, ch, peer, g.self())
	}
	switch {
	case errors.Is(err, ErrDuplicate):
		if err := g.sameHead(tx, r, ch, peer, b); err != nil {
			return err
		}
	case err != nil:
		if done, err := g.refuteInvite(tx, r, ch, peer, err, b); err != nil || done {
			return err
		}
		b.Drop(peer, "a group change was refused: "+err.Error()+forgeryHint(r, ch, peer, g.self(), err))
		if err := g.answerRival(tx, r, ch, peer, err, b); err != nil {
			return err
		}
	default:
		if err := g.afterChange(tx, r, next, out, next.Author, b); err != nil {
			return err
		}
		moved, err := g.maybeMove(tx, r, ch, peer, b)
		if err != nil {
			return err
		}
		if err := g.settleInvite(tx, r, next, out, peer, b); err != nil {
			return err
		}
		if out.Diff.Joined {
			wanted, err := asked(tx, ct.GroupID)
			wanted = wanted || moved // the user's own group, signed now
			if err == nil && wanted {
				err = tx.DeleteSetting(setAsked + ct.GroupID.String()) // asked and answered
			}
			if err != nil {
				return err
			}
			if contact, err := core.IsContact(tx, peer); err != nil {
				return err
			} else if !contact && !wanted {
				// A stranger added the user: an invitation to decide on.
				if err := recordInvite(tx, ct.GroupID, peer); err != nil {
					return err
				}
			}
		}
		if err := keepGroupAccess(tx, g.self(), body.AccessKeys); err != nil {
			return err
		}
		if r != nil && r.Author == g.self() && r.Base != nil && r.lostTo(next) {
			// The user's own change lost to a concurrent one: make it
			// again on top of the winner (what is left of it).
			if ch, err := next.Redo(g.self(), r.Base, &r.State); err == nil {
				if next, err = g.commitChange(tx, next, ch, b); err != nil {
					return err
				}
			}
		}
		r = next
	}
	if len(body.Distribution) > 0 && r != nil {
		it := heldItem{Kind: heldSenderKey, Peer: peer, Dev: dev, Bytes: body.Distribution, Next: body.NextSeq, At: b.Now}
		if err := g.applySenderKey(tx, peer, it, ct.GroupID, b); err != nil {
			return err
		}
	}
	if err == nil && next != nil {
		if err := g.removeDeparted(tx, next, b); err != nil {
			return err
		}
		if err := g.sameHead(tx, next, ch, peer, b); err != nil {
			return err
		}
		return g.useHeld(tx, ct.GroupID, b)
	}
	return nil
}

// maybeMove leaves the unsigned group a new signed group replaces, when
// one of its admins sent the new one (Moves).
func (g *Groups) maybeMove(tx *store.Tx, r *Record, ch Change, peer string, b *core.Batch) (bool, error) {
	if r != nil || ch.Proof == nil || ch.Proof.Chain[0].From == (ID{}) {
		return false, nil
	}
	old, err := loadGroup(tx, ch.Proof.Chain[0].From)
	if err != nil || !Moves(old, ch, peer, g.self()) {
		return false, err
	}
	return true, g.moveFrom(tx, old, b)
}

// keepGroupAccess records the access keys a group update shares, for
// members whose own key the client does not have (core.KeepSharedAccess).
func keepGroupAccess(tx *store.Tx, self string, keys []content.MemberKey) error {
	for _, k := range keys {
		if k.ID == self {
			continue
		}
		if err := core.KeepSharedAccess(tx, k.ID, k.Key); err != nil {
			return err
		}
	}
	return nil
}

// applyGroupLeave: peer leaves a group. Nothing goes to them from now on;
// an admin removes them.
func (g *Groups) applyGroupLeave(tx *store.Tx, peer string, id content.GroupID, b *core.Batch) error {
	r, err := loadGroup(tx, id)
	if err != nil {
		return err
	}
	if r == nil {
		b.Drop(peer, "a departure from a group this client does not know")
		return nil
	}
	next, out, err := r.Depart(peer, g.self())
	if err != nil {
		if !errors.Is(err, ErrDuplicate) {
			b.Drop(peer, "a departure from a group they are not in")
		}
		return nil
	}
	if err := g.afterChange(tx, r, next, out, peer, b); err != nil {
		return err
	}
	return g.removeDeparted(tx, next, b)
}

// removeDeparted: an admin removes members who left on their own, with a
// change (every admin may; concurrent removals settle on one).
func (g *Groups) removeDeparted(tx *store.Tx, r *Record, b *core.Batch) error {
	if len(r.Departed) == 0 || !r.Member(g.self()) || !r.State.IsAdmin(g.self()) {
		return nil
	}
	gone := slices.Clone(r.Departed)
	ch, err := r.Propose(g.self(), func(s *State) {
		s.Members = slices.DeleteFunc(s.Members, func(m string) bool { return slices.Contains(gone, m) })
	})
	if err != nil {
		return nil // nothing to do (or no admin right)
	}
	_, err = g.commitChange(tx, r, ch, b)
	return err
}

// applySenderKey records peer's sender key for a group (it: the key as it
// came), if peer is an active member; otherwise it is held until they are.
func (g *Groups) applySenderKey(tx *store.Tx, peer string, it heldItem, id content.GroupID, b *core.Batch) error {
	r, err := loadGroup(tx, id)
	if err != nil {
		return err
	}
	if r != nil && !r.Member(g.self()) {
		b.Drop(peer, "a sender key for a group you are not in")
		return nil
	}
	used, err := g.useSenderKey(tx, r, id, it, b)
	if err != nil || !used {
		return err
	}
	return g.useHeld(tx, id, b)
}

// useSenderKey processes a sender key of an active member, and tells where
// their texts start: nothing before the key's next sequence number is
// missing (a new member cannot read what came before). A sender key of
// someone who is not (yet) an active member is held; a malformed one is
// dropped. It reports whether the key was used.
func (g *Groups) useSenderKey(tx *store.Tx, r *Record, id content.GroupID, it heldItem, b *core.Batch) (bool, error) {
	if r == nil || !r.Active(it.Peer) {
		return false, hold(tx, id, it)
	}
	dm, err := senderkey.ParseDistributionMessage(it.Bytes)
	if err != nil || content.GroupID(dm.DistributionID) != id {
		b.Drop(it.Peer, "a malformed sender key, or one for another group")
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
		key := core.TrackKey(id, it.Peer)
		in, err := b.InState(tx, key)
		if err != nil {
			return false, err
		}
		if in.Upto < it.Next-1 {
			in.Upto = it.Next - 1
			core.Absorb(in, key, b)
		}
	}
	return true, nil
}

// useHeld tries again what was held for a group, until nothing more can
// be used; what still cannot stays held (until it is too old).
func (g *Groups) useHeld(tx *store.Tx, id content.GroupID, b *core.Batch) error {
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
			if b.Now.Sub(it.At) > heldGroupTTL {
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
			if err := g.heldSenderKey(tx, id, it, b); err != nil {
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
					b.Drop(it.Peer, "a group message whose certificate does not vouch for the sender's pinned identity key")
					continue
				}
			}
			if err := g.groupMessage(context.Background(), tx, id, it.Peer, it.Dev, it.Bytes, b); err != nil {
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
func (g *Groups) heldSenderKey(tx *store.Tx, id content.GroupID, it heldItem, b *core.Batch) error {
	r, err := loadGroup(tx, id)
	if err != nil || (r != nil && !r.Member(g.self())) {
		return err
	}
	_, err = g.useSenderKey(tx, r, id, it, b)
	return err
}
