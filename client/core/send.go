package core

import (
	"crypto/rand"
	"errors"
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/wire"
)

// Sending. Send stores the message and an outbox item in one transaction and
// returns; the outbox is sent in order whenever the client is connected
// (Run). An item is encrypted once, and its ciphertext is stored before it is
// sent, so an item interrupted by a crash or a lost connection is sent again
// byte for byte and the recipient's session drops the copy.

// ValidID reports whether id looks like a Sky ID: wire.AccountIDLength
// characters of wire.AccountIDAlphabet (2-9, a-z without i, l and o).
func ValidID(id string) bool { return wire.ValidAccountID(id) }

func (c *Core) CheckPeer(peer string) error {
	switch {
	case !ValidID(peer):
		return ErrInvalidID
	case peer == c.acct.ID:
		return ErrSelf
	}
	return nil
}

// Send queues a text message to peer and returns it (State Pending). It is
// sent as soon as the client is connected; SentEvent, ReceiptEvent and
// FailedEvent follow. Sending to someone makes them a contact (accepting
// their message request, if any).
//
// It fails with an *IdentityChangedError while peer's new identity key
// waits for the user's decision.
func (c *Core) Send(peer, text string) (Message, error) { return c.SendWith(peer, text, nil) }

// SendWith is Send for a text that carries attachments: their encoded
// pointers (package client/attach uploads the files and makes them).
func (c *Core) SendWith(peer, text string, atts [][]byte) (Message, error) {
	return c.SendQuoting(peer, text, atts, nil)
}

// SendQuoting is SendWith for a reply: the text quotes q (package
// client/actions makes it).
func (c *Core) SendQuoting(peer, text string, atts [][]byte, q *content.Quote) (Message, error) {
	if err := c.CheckPeer(peer); err != nil {
		return Message{}, err
	}
	if len(text) > content.MaxTextBytes {
		return Message{}, ErrTooLong
	}
	var out Message
	err := c.Update(func(tx *store.Tx) error {
		if err := c.RefuseChanged(tx, peer); err != nil {
			return err
		}
		if err := AcceptPeer(tx, peer, c.Now()); err != nil {
			return err
		}
		conv, err := c.Conversation(tx, peer, 0)
		if err != nil {
			return err
		}
		m, err := c.AddOutgoing(tx, peer, &content.Content{Kind: content.KindText, Text: text, Timer: conv.Timer, Attachments: atts, Quote: q})
		if err != nil {
			return err
		}
		out, err = FromStore(m, false)
		return err
	})
	if err != nil {
		return Message{}, err
	}
	c.KickOutbox()
	c.KickExpiry()
	c.Notify()
	return out, nil
}

// acceptPeer makes peer a contact (if not yet), ends any request from them
// and any rejection of them.
func AcceptPeer(tx *store.Tx, peer string, now time.Time) error {
	ok, err := IsContact(tx, peer)
	if err != nil || ok {
		return err
	}
	if err := tx.PutContact(store.Contact{ID: peer, AddedAt: now}); err != nil {
		return err
	}
	if err := tx.DeleteRequest(peer); err != nil {
		return err
	}
	return tx.DeleteSetting(setBlocked + peer)
}

// conversation returns the settings of the conversation with peer, creating
// them with timer (0: the account default) for a new conversation.
func (c *Core) Conversation(tx *store.Tx, peer string, timer time.Duration) (store.Conversation, error) {
	conv, err := tx.Conversation(peer)
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return conv, err
	}
	if timer == 0 {
		if timer, err = AccountTimer(tx); err != nil {
			return conv, err
		}
	}
	conv = store.Conversation{ID: peer, Timer: timer, UpdatedAt: c.Now()}
	return conv, tx.PutConversation(conv)
}

// nextSeq takes the next outgoing sequence number of the conversation.
func nextSeq(tx *store.Tx, peer string) (uint64, error) {
	f, err := SettingFields(tx, setSeqOut+peer)
	if err != nil {
		return 0, err
	}
	seq := f.Nums[1] + 1
	return seq, tx.SetSetting(setSeqOut+peer, PutNum(nil, 1, seq))
}

func NewContentID() content.ID {
	var id content.ID
	rand.Read(id[:])
	return id
}

// addOutgoing completes c (sender, IDs, time, sequence number), stores it as
// an outgoing message and queues it.
func (c *Core) AddOutgoing(tx *store.Tx, peer string, ct *content.Content) (store.Message, error) {
	now := c.Now().Truncate(time.Millisecond)
	seq, err := nextSeq(tx, peer)
	if err != nil {
		return store.Message{}, err
	}
	ct.Version, ct.Sender, ct.SenderDevice, ct.Recipient = content.Version, c.acct.ID, c.acct.DeviceID, peer
	ct.ID, ct.SentAt, ct.Seq, ct.AccessKey = NewContentID(), now, seq, c.AccessKey()
	ct.DirectoryHead = c.directoryHead()
	if ct.DeviceList, err = ownListVersion(tx, c.acct.ID); err != nil {
		return store.Message{}, err
	}
	body, err := content.Encode(ct)
	if err != nil {
		return store.Message{}, err
	}
	timer := ct.Timer
	m := store.Message{Conversation: peer, Sender: c.acct.ID, MessageID: ct.ID.String(), Outgoing: true, State: store.Pending,
		Body: body, SentAt: now, Timer: timer}
	if err := tx.AddMessage(&m); err != nil {
		return m, err
	}
	if err := tx.Enqueue(&store.Outgoing{To: peer, MessageRef: m.ID, Payload: EncodeOutItem(OutItem{Content: body}), CreatedAt: now}); err != nil {
		return m, err
	}
	return m, c.syncSent(tx, ct, body)
}

// enqueueReceipt queues a receipt for ids to peer.
func (c *Core) enqueueReceipt(tx *store.Tx, peer string, typ content.ReceiptType, ids []content.ID, now time.Time) error {
	for len(ids) > 0 {
		n := min(len(ids), content.MaxReceiptIDs)
		ct := &content.Content{Version: content.Version, Sender: c.acct.ID, SenderDevice: c.acct.DeviceID, Recipient: peer,
			ID: NewContentID(), SentAt: now.Truncate(time.Millisecond), Kind: content.KindReceipt, Receipt: typ, IDs: ids[:n], AccessKey: c.AccessKey()}
		body, err := content.Encode(ct)
		if err != nil {
			return err
		}
		it := OutItem{Content: body, NotBefore: c.ReceiptDue()}
		if err := tx.Enqueue(&store.Outgoing{To: peer, Payload: EncodeOutItem(it), CreatedAt: now}); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// OutItem is an outbox item: the content and, once encrypted, the
// ciphertext for each of the recipient's devices; receipts also say when
// they may go (see receiptDue). A group message's item has no content: it
// names the group, and Sealed holds the one sender-key message, made before
// it was queued (groupsend.go).
type OutItem struct {
	Content   []byte
	Sealed    []DeviceCiphertext
	NotBefore time.Time // zero: at once
	Group     []byte    // a group message: the group's ID
	AsRequest bool      // the user chose to send it as a sealed request (SendAsRequest)
}

type DeviceCiphertext struct {
	Device uint32
	Bytes  []byte // what goes to the server: type byte and ciphertext
}

func EncodeOutItem(it OutItem) store.Secret {
	b := PutBytes(nil, 1, it.Content)
	for _, d := range it.Sealed {
		b = PutBytes(b, 2, PutBytes(PutNum(nil, 1, uint64(d.Device)), 2, d.Bytes))
	}
	if !it.NotBefore.IsZero() {
		b = PutNum(b, 3, uint64(it.NotBefore.UnixNano()))
	}
	if len(it.Group) > 0 {
		b = PutBytes(b, 4, it.Group)
	}
	if it.AsRequest {
		b = PutNum(b, 5, 1)
	}
	return b
}

func DecodeOutItem(b []byte) (OutItem, error) {
	f, err := DecodeFields(b)
	if err != nil {
		return OutItem{}, err
	}
	it := OutItem{Content: f.One(1), AsRequest: f.Nums[5] == 1}
	if g := f.One(4); len(g) > 0 {
		it.Group = g
	}
	if nb, ok := f.Nums[3]; ok && nb > 0 && nb < 1<<62 {
		it.NotBefore = time.Unix(0, int64(nb))
	}
	for _, d := range f.Bytes[2] {
		df, err := DecodeFields(d)
		if err != nil {
			return it, err
		}
		it.Sealed = append(it.Sealed, DeviceCiphertext{Device: uint32(df.Nums[1]), Bytes: df.One(2)})
	}
	switch {
	case len(it.Group) > 0 && (len(it.Group) != content.GroupIDSize || len(it.Sealed) == 0):
		return it, ErrBadSetting // a group message's item holds its sender-key message
	case len(it.Group) == 0 && len(it.Content) == 0:
		return it, ErrBadSetting
	}
	return it, nil
}

// enqueueControl queues a control content (a group update, leave or sender
// key) to peer through the 1:1 session: no message is stored, but it takes
// the conversation's next sequence number, so a dropped one shows as a gap.
func (c *Core) EnqueueControl(tx *store.Tx, peer string, ct *content.Content) error {
	now := c.Now().Truncate(time.Millisecond)
	seq, err := nextSeq(tx, peer)
	if err != nil {
		return err
	}
	ct.Version, ct.Sender, ct.SenderDevice, ct.Recipient = content.Version, c.acct.ID, c.acct.DeviceID, peer
	ct.ID, ct.SentAt, ct.Seq, ct.AccessKey = NewContentID(), now, seq, c.AccessKey()
	if ct.DeviceList, err = ownListVersion(tx, c.acct.ID); err != nil {
		return err
	}
	body, err := content.Encode(ct)
	if err != nil {
		return err
	}
	return tx.Enqueue(&store.Outgoing{To: peer, Payload: EncodeOutItem(OutItem{Content: body}), CreatedAt: now})
}

// self is this device's protocol address.
func (c *Core) Self() protocol.Address {
	return protocol.Address{Name: c.acct.ID, DeviceID: c.acct.DeviceID}
}
