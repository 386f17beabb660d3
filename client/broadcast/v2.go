package broadcast

import (
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/senderkey"
)

// Broadcasts over sealed sender v2. Each list has a random list ID, which
// is also the distribution ID of the user's sender key for the list. A
// recipient that keeps the user as a contact (it gave the user its own
// access key; core.BroadcastReady) holds that sender key, handed out in
// their 1:1 session (content.KindBroadcastKey), and gets the list's text
// encrypted once with it (content.KindBroadcastText): one sender-key
// message for all of them, which the outbox sends as one v2 message
// (core/multisend.go) and which the recipient shows in its 1:1
// conversation with the user. Everyone else on the list gets an ordinary
// 1:1 message, as before. The user keeps a copy in each recipient's
// conversation (same message ID), so that receipts and history work as for
// 1:1 texts. Removing anyone from a list gives it a new list ID, so a
// removed recipient holds no key to later texts.

// Setting names of the sender side, per list ID.
const (
	setListSent = "broadcast-sk-sent/" // + list ID: bytes repeated, recipients holding the current key
	setListSeq  = "broadcast-seq/"     // + list ID: varint, the last sequence number of a text to the list
)

func newListID() content.GroupID {
	var id content.GroupID
	rand.Read(id[:])
	return id
}

// skStore keeps sender keys of broadcast lists (the user's own and those
// of the user's contacts), written through to the transaction's settings.
type skStore struct{ tx *store.Tx }

// setListKey + sender "." device "/" + list ID: a senderkey.Record.
const setListKey = "broadcast-sk/"

func listKeyName(sender protocol.Address, id senderkey.DistributionID) string {
	return setListKey + sender.Name + "." + strconv.FormatUint(uint64(sender.DeviceID), 10) + "/" + content.GroupID(id).String()
}

// LoadSenderKey implements senderkey.Store.
func (s skStore) LoadSenderKey(_ context.Context, sender protocol.Address, id senderkey.DistributionID) (*senderkey.Record, error) {
	b, err := core.Setting(s.tx, listKeyName(sender, id))
	if err != nil || b == nil {
		return nil, err
	}
	r, err := senderkey.ParseRecord(b)
	if err != nil {
		return nil, fmt.Errorf("%w: a broadcast list's sender key does not decode", store.ErrCorrupt)
	}
	return r, nil
}

// StoreSenderKey implements senderkey.Store.
func (s skStore) StoreSenderKey(_ context.Context, sender protocol.Address, id senderkey.DistributionID, r *senderkey.Record) error {
	b, err := r.MarshalBinary()
	if err != nil {
		return err
	}
	return s.tx.SetSetting(listKeyName(sender, id), b)
}

// sendV2 queues text to the recipients of list l that can take it as one
// sender-key message (the others it returns), and returns the user's
// copies, one per recipient's conversation.
func (l *Lists) sendV2(tx *store.Tx, list *BroadcastList, text string, atts [][]byte) (out []core.Message, rest []string, _ error) {
	var ready []string
	for _, m := range list.Members {
		ok, err := l.c.BroadcastReady(tx, m)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			ready = append(ready, m)
		} else {
			rest = append(rest, m)
		}
	}
	if len(ready) < 2 {
		return nil, list.Members, nil // one recipient: a 1:1 message is as cheap
	}
	now := l.c.Now().Truncate(time.Millisecond)
	byTimer := map[time.Duration][]string{}
	var timers []time.Duration
	for _, m := range ready {
		if err := core.AcceptPeer(tx, m, now); err != nil {
			return nil, nil, err
		}
		conv, err := l.c.Conversation(tx, m, 0)
		if err != nil {
			return nil, nil, err
		}
		if byTimer[conv.Timer] == nil {
			timers = append(timers, conv.Timer)
		}
		byTimer[conv.Timer] = append(byTimer[conv.Timer], m)
	}
	if err := l.distribute(tx, list.key, ready); err != nil {
		return nil, nil, err
	}
	slices.Sort(timers)
	for _, timer := range timers { // one text per timer the conversations have
		ms, err := l.queueText(tx, list.key, byTimer[timer], text, atts, timer, now)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, ms...)
	}
	return out, rest, nil
}

// queueText encrypts one text to list id with the user's sender key, and
// stores and queues a copy for each of to.
func (l *Lists) queueText(tx *store.Tx, id content.GroupID, to []string, text string, atts [][]byte, timer time.Duration, now time.Time) ([]core.Message, error) {
	seq, err := nextListSeq(tx, id)
	if err != nil {
		return nil, err
	}
	ct := &content.Content{Version: content.Version, Sender: l.c.ID(), SenderDevice: l.c.DeviceID(), ID: core.NewContentID(), SentAt: now,
		Seq: seq, Kind: content.KindBroadcastText, GroupID: id, Text: text, Timer: timer, Attachments: atts}
	body, err := content.Encode(ct)
	if err != nil {
		return nil, err
	}
	padded, err := content.PadForSealing(body)
	if err != nil {
		return nil, err
	}
	skm, err := senderkey.Encrypt(context.Background(), skStore{tx}, l.c.Self(), senderkey.DistributionID(id), padded)
	if err != nil {
		return nil, err
	}
	item := core.EncodeOutItem(core.OutItem{Group: id[:], Sealed: []core.DeviceCiphertext{{Device: core.AnnouncedDevice, Bytes: append([]byte{core.EnvSenderKey}, skm...)}}})
	var out []core.Message
	for _, peer := range to {
		m := store.Message{Conversation: peer, Sender: l.c.ID(), MessageID: ct.ID.String(), Outgoing: true, State: store.Pending,
			Body: body, SentAt: now, Timer: timer}
		if err := tx.AddMessage(&m); err != nil {
			return nil, err
		}
		if err := tx.Enqueue(&store.Outgoing{To: peer, MessageRef: m.ID, Payload: item, CreatedAt: now}); err != nil {
			return nil, err
		}
		msg, err := core.FromStore(m, false)
		if err != nil {
			return nil, err
		}
		out = append(out, msg)
	}
	return out, nil
}

// distribute queues the user's sender key for list id to each of to that
// does not hold it yet (in their 1:1 session, so ahead of the text).
func (l *Lists) distribute(tx *store.Tx, id content.GroupID, to []string) error {
	sks := skStore{tx}
	dm, err := senderkey.CreateDistribution(context.Background(), sks, l.c.Self(), senderkey.DistributionID(id))
	if err != nil {
		return err
	}
	last, err := lastListSeq(tx, id)
	if err != nil {
		return err
	}
	f, err := core.SettingFields(tx, setListSent+id.String())
	if err != nil {
		return err
	}
	sent := map[string]bool{}
	for _, m := range f.Bytes[1] {
		sent[string(m)] = true
	}
	n := len(sent)
	for _, m := range to {
		if sent[m] {
			continue
		}
		ct := &content.Content{Kind: content.KindBroadcastKey, GroupID: id, Distribution: dm.Bytes(), NextSeq: last + 1}
		if err := l.c.EnqueueControl(tx, m, ct); err != nil {
			return err
		}
		sent[m] = true
	}
	if len(sent) == n {
		return nil
	}
	var b []byte
	for _, m := range slices.Sorted(maps.Keys(sent)) {
		b = core.PutBytes(b, 1, []byte(m))
	}
	return tx.SetSetting(setListSent+id.String(), b)
}

func lastListSeq(tx *store.Tx, id content.GroupID) (uint64, error) {
	return core.Counter(tx, setListSeq+id.String())
}

func nextListSeq(tx *store.Tx, id content.GroupID) (uint64, error) {
	return core.NextCounter(tx, setListSeq+id.String())
}

// forgetList deletes what the sender side keeps of list id.
func forgetList(tx *store.Tx, self protocol.Address, id content.GroupID) error {
	for _, name := range []string{setListSent + id.String(), setListSeq + id.String(), listKeyName(self, senderkey.DistributionID(id))} {
		if err := tx.DeleteSetting(name); err != nil {
			return err
		}
	}
	return nil
}
