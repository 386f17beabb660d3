package broadcast

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

// Receiving a contact's broadcasts (v2.go says what is sent). A contact's
// sender key for one of their lists is kept only from a contact, at most
// maxListsPerPeer per contact (the oldest goes first); a sender-key message
// is a broadcast only if its distribution ID is such a list of the sender
// the certificate names, and it is shown in the 1:1 conversation with them.

// maxListsPerPeer bounds the broadcast lists kept per contact.
const maxListsPerPeer = 100

// setListsFrom + peer: bytes repeated, the IDs of peer's lists whose keys
// are kept, oldest first.
const setListsFrom = "broadcast-from/"

// ApplyKey keeps a contact's sender key for one of their lists.
func (l *Lists) ApplyKey(tx *store.Tx, peer string, ct *content.Content, b *core.Batch) error {
	if err := l.applyKey(tx, peer, ct, b); err != nil {
		return err
	}
	return l.c.Track(tx, peer, ct.Seq, 0, b)
}

func (l *Lists) applyKey(tx *store.Tx, peer string, ct *content.Content, b *core.Batch) error {
	if ok, err := core.IsContact(tx, peer); err != nil || !ok {
		if err == nil {
			b.Drop(peer, "a broadcast list's key from someone who is not a contact")
		}
		return err
	}
	dm, err := senderkey.ParseDistributionMessage(ct.Distribution)
	if err != nil || content.GroupID(dm.DistributionID) != ct.GroupID {
		b.Drop(peer, "a malformed broadcast list key, or one for another list")
		return nil
	}
	from := protocol.Address{Name: peer, DeviceID: ct.SenderDevice}
	if err := senderkey.ProcessDistribution(context.Background(), skStore{tx}, from, dm); err != nil {
		return err
	}
	if err := l.keepList(tx, from, ct.GroupID); err != nil {
		return err
	}
	if ct.NextSeq > 1 { // nothing before it is missing
		key := core.TrackKey(ct.GroupID, peer)
		in, err := b.InState(tx, key)
		if err != nil {
			return err
		}
		if in.Upto < ct.NextSeq-1 {
			in.Upto = ct.NextSeq - 1
			core.Absorb(in, key, b)
		}
	}
	return nil
}

// keepList notes that a key of from's list id is kept, forgetting the
// oldest beyond maxListsPerPeer.
func (l *Lists) keepList(tx *store.Tx, from protocol.Address, id content.GroupID) error {
	f, err := core.SettingFields(tx, setListsFrom+from.Name)
	if err != nil {
		return err
	}
	ids := slices.DeleteFunc(f.Bytes[1], func(b []byte) bool { return string(b) == string(id[:]) })
	ids = append(ids, id[:])
	for len(ids) > maxListsPerPeer {
		if err := tx.DeleteSetting(listKeyName(from, senderkey.DistributionID(ids[0]))); err != nil {
			return err
		}
		ids = ids[1:]
	}
	var b []byte
	for _, x := range ids {
		b = core.PutBytes(b, 1, x)
	}
	return tx.SetSetting(setListsFrom+from.Name, b)
}

// ReceiveMessage takes a sealed sender-key message from peer's device dev
// (its certificate vouching for certKey) if it is a text to one of peer's
// broadcast lists whose key the client keeps, and reports whether it was.
func (l *Lists) ReceiveMessage(ctx context.Context, tx *store.Tx, ps *protostore.Stores, peer string, dev uint32, skm []byte, certKey curve.PublicKey, b *core.Batch) (bool, error) {
	m, err := senderkey.ParseMessage(skm)
	if err != nil {
		return false, nil // the groups' to judge
	}
	from := protocol.Address{Name: peer, DeviceID: dev}
	id := content.GroupID(m.DistributionID)
	if b, err := core.Setting(tx, listKeyName(from, m.DistributionID)); err != nil || b == nil {
		return false, err
	}
	pinned, ok, err := ps.PinnedIdentity(from)
	switch {
	case err != nil:
		return true, err
	case !ok || pinned != certKey:
		b.Drop(peer, "a broadcast whose certificate does not vouch for the sender's pinned identity key")
		return true, nil
	}
	padded, err := senderkey.Decrypt(ctx, skStore{tx}, from, skm)
	switch {
	case errors.Is(err, protocol.ErrDuplicateMessage):
		b.Drop(peer, "a broadcast delivered twice")
		return true, nil
	case err != nil && !core.IsProtocolError(err):
		return true, err
	case err != nil:
		b.Drop(peer, "a broadcast that does not decrypt")
		return true, nil
	}
	return true, l.show(tx, peer, dev, id, padded, b)
}

// show checks a decrypted broadcast and shows it in the conversation with
// peer, a contact.
func (l *Lists) show(tx *store.Tx, peer string, dev uint32, id content.GroupID, padded []byte, b *core.Batch) error {
	plain, ct, err := content.Open(padded)
	switch {
	case errors.Is(err, content.ErrUnsupported):
		b.Drop(peer, "a broadcast in a newer format; upgrade Sky")
		return nil
	case err != nil:
		b.Drop(peer, "a broadcast with malformed content")
		return nil
	case ct.Kind != content.KindBroadcastText || ct.Sender != peer || ct.SenderDevice != dev || ct.GroupID != id:
		b.Drop(peer, "a broadcast whose sender, kind or list inside differs from its envelope")
		return nil
	}
	if ok, err := core.IsContact(tx, peer); err != nil || !ok {
		if err == nil {
			b.Drop(peer, "a broadcast from someone who is no longer a contact")
		}
		return err
	}
	key := core.TrackKey(id, peer)
	if fresh, err := tx.MarkSeen("bmsg/"+key+"/"+ct.ID.String(), b.Now); err != nil || !fresh {
		if err == nil {
			b.Drop(peer, "a broadcast delivered twice")
		}
		return err
	}
	if _, err := l.c.ConversationFor(tx, peer, ct.Timer, b.Now); err != nil {
		return err
	}
	msgID, err := l.c.AddIncoming(tx, peer, ct, plain, ct.Timer, b)
	if err != nil {
		return err
	}
	b.Deliver(peer, ct.ID)
	return l.c.Track(tx, key, ct.Seq, msgID, b)
}
