package group

import (
	"context"
	"slices"
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol/senderkey"
)

// Group updates over sealed sender v2. A change goes to each member inside
// the 1:1 session — but the members who were in the group before the
// change, are in it after, and hold the user's current sender key all get
// the same update (the new state, its signed proof, and the access keys of
// the members just added). For them it is one sender-key message, the
// same as a group text (a KindGroupUpdate naming no recipient), which the
// outbox sends as one multi-recipient message: for a change to a group of
// 1,000 one upload instead of 999 envelopes of the whole state and proof.
// The others (members new to the group, those leaving, those without the
// key, and everyone when the change replaces the user's sender key) get it
// in their 1:1 sessions as before. The sender key's signature tells the
// members who sent it, as the session does; its number (Seq) is the one
// the user's next text will take, and is not counted as a text.

// minSharedUpdate is the fewest members for which one shared update is sent.
const minSharedUpdate = 2

// queueSharedUpdate queues one shared update for the members that can take
// it (see above) and returns them.
func (g *Groups) queueSharedUpdate(tx *store.Tx, old *State, next *Record, holders []string) (map[string]bool, error) {
	if old == nil || !next.Member(g.self()) || next.Proof == nil || g.c.Opts.SingleSends {
		return nil, nil
	}
	var to []string
	for _, m := range changeRecipients(old, next, g.self()) {
		if old.IsMember(m) && next.Active(m) && slices.Contains(holders, m) {
			to = append(to, m)
		}
	}
	if len(to) < minSharedUpdate {
		return nil, nil
	}
	body, err := g.updateBody(tx, old, next, to[0]) // the same for each of them
	if err != nil {
		return nil, err
	}
	id := next.State.ID
	last, err := lastGroupSeq(tx, id)
	if err != nil {
		return nil, err
	}
	now := g.c.Now().Truncate(time.Millisecond)
	ct := &content.Content{Version: content.Version, Sender: g.self(), SenderDevice: g.c.DeviceID(), ID: core.NewContentID(), SentAt: now,
		Seq: last + 1, Kind: content.KindGroupUpdate, GroupID: id, Timer: next.State.Timer, Group: body}
	plain, err := content.Encode(ct)
	if err != nil {
		return nil, err
	}
	padded, err := content.PadForSealing(plain)
	if err != nil {
		return nil, err
	}
	sks := newSKStore(tx)
	skm, err := senderkey.Encrypt(context.Background(), sks, g.c.Self(), senderkey.DistributionID(id), padded)
	if err != nil {
		return nil, err
	}
	if err := sks.commit(); err != nil {
		return nil, err
	}
	item := core.EncodeOutItem(core.OutItem{Group: id[:], Sealed: []core.DeviceCiphertext{{Device: core.AnnouncedDevice, Bytes: append([]byte{core.EnvSenderKey}, skm...)}}})
	out := map[string]bool{}
	for _, m := range to {
		if err := tx.Enqueue(&store.Outgoing{To: m, Payload: item, CreatedAt: now}); err != nil {
			return nil, err
		}
		if err := g.shareReceipts(tx, old, next, m); err != nil {
			return nil, err
		}
		out[m] = true
	}
	return out, nil
}

// sharedUpdate applies a group update that came as a sender-key message
// from peer (already decrypted with sks, and checked to name peer and the
// group): once, and judged exactly as one from the 1:1 session.
func (g *Groups) sharedUpdate(tx *store.Tx, sks *skStore, id content.GroupID, peer string, dev uint32, ct *content.Content, b *core.Batch) error {
	fresh, err := tx.MarkSeen("gupd/"+core.TrackKey(id, peer)+"/"+ct.ID.String(), b.Now)
	if err != nil || !fresh {
		if err == nil {
			b.Drop(peer, "a group update delivered twice")
		}
		return err
	}
	if err := sks.commit(); err != nil {
		return err
	}
	return g.applyGroupUpdate(tx, peer, dev, ct, b)
}
