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

// Sending to a group. A group text is encrypted once, with the user's
// sender key, and the one sender-key message goes to each member as its own
// outbox item: a sealed envelope to the member's announced device, padded
// like every other. Members that do not hold the user's current sender key
// get it first, through their 1:1 session (an earlier item of their own
// queue, so it arrives before the message).

// SendGroup queues a text to a group and returns it (State Pending; Sent
// once the first member's envelope is accepted). The user must be a
// member. The message carries the group's timer.
func (g *Groups) SendGroup(ref, text string) (core.Message, error) {
	return g.SendGroupWith(ref, text, nil)
}

// SendGroupWith is SendGroup for a text that carries attachments (their
// encoded pointers): the files are uploaded once and every member gets
// the same pointers.
func (g *Groups) SendGroupWith(ref, text string, atts [][]byte) (core.Message, error) {
	return g.SendGroupQuoting(ref, text, atts, nil)
}

// SendGroupQuoting is SendGroupWith for a reply: the text quotes q.
func (g *Groups) SendGroupQuoting(ref, text string, atts [][]byte, q *content.Quote) (core.Message, error) {
	if len(text) > content.MaxTextBytes {
		return core.Message{}, core.ErrTooLong
	}
	var out core.Message
	err := g.c.Update(func(tx *store.Tx) error {
		r, err := findGroup(tx, ref)
		if err != nil {
			return err
		}
		if !r.Member(g.self()) {
			return ErrNotGroupMember
		}
		m, err := g.addGroupOutgoing(tx, r, text, atts, q)
		if err != nil {
			return err
		}
		if out, err = core.FromStore(m, false); err != nil {
			return err
		}
		out.GroupName = r.State.Name
		return nil
	})
	if err != nil {
		return core.Message{}, err
	}
	g.c.KickOutbox()
	g.c.KickExpiry()
	g.c.Notify()
	return out, nil
}

// addGroupOutgoing stores a group text and queues it for every recipient.
func (g *Groups) addGroupOutgoing(tx *store.Tx, r *Record, text string, atts [][]byte, q *content.Quote) (store.Message, error) {
	now := g.c.Now().Truncate(time.Millisecond)
	id := r.State.ID
	rcpts := r.Recipients(g.self())
	if err := g.distributeSenderKey(tx, id, rcpts); err != nil {
		return store.Message{}, err
	}
	seq, err := nextGroupSeq(tx, id)
	if err != nil {
		return store.Message{}, err
	}
	ct := &content.Content{Version: content.Version, Sender: g.self(), SenderDevice: g.c.DeviceID(), ID: core.NewContentID(),
		SentAt: now, Seq: seq, Kind: content.KindGroupText, GroupID: id, Text: text, Timer: r.State.Timer, Attachments: atts, Quote: q,
		GroupHead: r.HeadBytes()}
	body, err := content.Encode(ct)
	if err != nil {
		return store.Message{}, err
	}
	padded, err := content.PadForSealing(body)
	if err != nil {
		return store.Message{}, err
	}
	sks := newSKStore(tx)
	skm, err := senderkey.Encrypt(context.Background(), sks, g.c.Self(), senderkey.DistributionID(id), padded)
	if err != nil {
		return store.Message{}, err
	}
	if err := sks.commit(); err != nil {
		return store.Message{}, err
	}
	m := store.Message{Conversation: id.String(), Sender: g.self(), MessageID: ct.ID.String(), Outgoing: true, State: store.Pending,
		Body: body, SentAt: now, Timer: r.State.Timer}
	if len(rcpts) == 0 {
		m.State = store.Sent // a group of one: nobody to send to
	}
	if err := ensureGroupConversation(tx, &r.State, now); err != nil {
		return m, err
	}
	if err := tx.AddMessage(&m); err != nil {
		return m, err
	}
	if err := g.c.SyncSent(tx, ct, body); err != nil { // to the account's other devices
		return m, err
	}
	item := core.EncodeOutItem(core.OutItem{Group: id[:], Sealed: []core.DeviceCiphertext{{Device: core.AnnouncedDevice, Bytes: append([]byte{core.EnvSenderKey}, skm...)}}})
	for _, to := range rcpts {
		if err := tx.Enqueue(&store.Outgoing{To: to, MessageRef: m.ID, Payload: item, CreatedAt: now}); err != nil {
			return m, err
		}
	}
	return m, nil
}

// ownDistribution returns the user's sender key for a group as a
// distribution message at its current iteration (making the key first if
// there is none), and the sequence number of the user's next group text.
func (g *Groups) OwnDistribution(tx *store.Tx, id content.GroupID) ([]byte, uint64, error) {
	sks := newSKStore(tx)
	dm, err := senderkey.CreateDistribution(context.Background(), sks, g.c.Self(), senderkey.DistributionID(id))
	if err != nil {
		return nil, 0, err
	}
	if err := sks.commit(); err != nil {
		return nil, 0, err
	}
	seq, err := lastGroupSeq(tx, id)
	return dm.Bytes(), seq + 1, err
}

// distributeSenderKey queues the user's current sender key for a group to
// each of rcpts that does not hold it yet.
func (g *Groups) distributeSenderKey(tx *store.Tx, id content.GroupID, rcpts []string) error {
	dist, nextSeq, err := g.OwnDistribution(tx, id)
	if err != nil {
		return err
	}
	sent, err := loadSent(tx, id)
	if err != nil {
		return err
	}
	n := len(sent)
	for _, m := range rcpts {
		if _, ok := slices.BinarySearch(sent[:n], m); ok {
			continue
		}
		if err := g.c.EnqueueControl(tx, m, &content.Content{Kind: content.KindSenderKey, GroupID: id, Distribution: dist, NextSeq: nextSeq}); err != nil {
			return err
		}
		sent = append(sent, m)
	}
	if len(sent) == n {
		return nil
	}
	return saveSent(tx, id, sent)
}

// lastGroupSeq returns the sequence number of the user's last group text.
func lastGroupSeq(tx *store.Tx, id content.GroupID) (uint64, error) {
	return core.Counter(tx, setGroupSeq+id.String())
}

// nextGroupSeq takes the next sequence number of the user's group texts.
func nextGroupSeq(tx *store.Tx, id content.GroupID) (uint64, error) {
	return core.NextCounter(tx, setGroupSeq+id.String())
}
