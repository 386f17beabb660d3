package core

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/store"
)

// Receipts in groups. A member confirms a group text only to its author,
// in their 1:1 session (a KindReceipt naming the group), and only where the
// group's receipts are on (GroupInfo.Receipts: the admins' switch, or by
// default groups of up to content.DefaultReceiptMembers). They are batched
// so that a large group does not cost one message per receipt per member:
// while a member's receipt to one author for one group waits for its
// random delay (Options.ReceiptDelay) and is not yet encrypted, later
// receipts of the same kind join it (up to content.MaxReceiptIDs), and a
// read receipt takes the messages it names out of a waiting delivery
// receipt (read implies delivered). The author's side is in package
// client/group (ApplyReceipt).

// groupRcpt is an author and a group a delivery receipt goes to.
type groupRcpt struct {
	peer  string
	group content.GroupID
}

// DeliverGroup queues a delivery receipt for a group text of peer's in
// group (the caller checked that the group's receipts are on).
func (b *Batch) DeliverGroup(peer string, group content.GroupID, id content.ID) {
	if b.groupDelivered == nil {
		b.groupDelivered = map[groupRcpt][]content.ID{}
	}
	k := groupRcpt{peer, group}
	b.groupDelivered[k] = append(b.groupDelivered[k], id)
}

// queueGroupDelivered queues the batch's group delivery receipts.
func (c *Core) queueGroupDelivered(tx *store.Tx, b *Batch) error {
	for _, k := range sortedRcpts(b.groupDelivered) {
		if err := c.EnqueueGroupReceipt(tx, k.peer, k.group, content.Delivered, b.groupDelivered[k], b.Now); err != nil {
			return err
		}
		b.Queued = true
	}
	return nil
}

// setPendingReceipt names the outbox item of the receipt of one kind to
// one author for one group that may still take more IDs.
const setPendingReceipt = "group-receipt-pending/"

func pendingName(peer string, group content.GroupID, typ content.ReceiptType) string {
	return setPendingReceipt + peer + "/" + group.String() + "/" + string('0'+byte(typ))
}

// EnqueueGroupReceipt queues a receipt of typ for ids, group texts by peer
// in group, joining a waiting one where it can (see above). A waiting item
// is replaced, not rewritten: if the outbox is sending it right now, the
// author gets some IDs twice, which changes nothing there.
func (c *Core) EnqueueGroupReceipt(tx *store.Tx, peer string, group content.GroupID, typ content.ReceiptType, ids []content.ID, now time.Time) error {
	if typ == content.Read {
		if err := c.unqueueDelivered(tx, peer, group, ids); err != nil {
			return err
		}
	}
	name := pendingName(peer, group, typ)
	it, ct, err := c.pendingReceipt(tx, name, peer, group, typ)
	if err != nil {
		return err
	}
	due := c.ReceiptDue()
	var all []content.ID
	if it != nil {
		all = ct.IDs
		if due, err = itemDue(it); err != nil {
			return err
		}
		if err := tx.Dequeue(it.ID); err != nil {
			return err
		}
	}
	return c.queueGroupReceipt(tx, name, peer, group, typ, appendNew(all, ids), due, now)
}

// queueGroupReceipt queues receipts for ids, at most MaxReceiptIDs each,
// and notes the last as the one later receipts may join.
func (c *Core) queueGroupReceipt(tx *store.Tx, name, peer string, group content.GroupID, typ content.ReceiptType, ids []content.ID, due, now time.Time) error {
	if len(ids) == 0 {
		return tx.DeleteSetting(name)
	}
	for len(ids) > 0 {
		n := min(len(ids), content.MaxReceiptIDs)
		ct := &content.Content{Version: content.Version, Sender: c.acct.ID, SenderDevice: c.acct.DeviceID, Recipient: peer,
			ID: NewContentID(), SentAt: now.Truncate(time.Millisecond), Kind: content.KindReceipt, Receipt: typ, IDs: ids[:n],
			GroupID: group, AccessKey: c.AccessKey()}
		body, err := content.Encode(ct)
		if err != nil {
			return err
		}
		o := &store.Outgoing{To: peer, Payload: EncodeOutItem(OutItem{Content: body, NotBefore: due}), CreatedAt: now}
		if err := tx.Enqueue(o); err != nil {
			return err
		}
		if err := tx.SetSetting(name, PutNum(nil, 1, uint64(o.ID))); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

func itemDue(it *store.Outgoing) (time.Time, error) {
	item, err := DecodeOutItem(it.Payload)
	return item.NotBefore, err
}

// appendNew appends the IDs of add that dst does not hold.
func appendNew(dst, add []content.ID) []content.ID {
	for _, id := range add {
		if !slices.Contains(dst, id) {
			dst = append(dst, id)
		}
	}
	return dst
}

// pendingReceipt returns the waiting receipt item name points to and its
// content, or nil if there is none that may still take more: gone (sent),
// already encrypted, full, or not that receipt.
func (c *Core) pendingReceipt(tx *store.Tx, name, peer string, group content.GroupID, typ content.ReceiptType) (*store.Outgoing, *content.Content, error) {
	f, err := SettingFields(tx, name)
	if err != nil || f.Nums[1] == 0 {
		return nil, nil, err
	}
	it, err := tx.OutgoingItem(int64(f.Nums[1]))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, tx.DeleteSetting(name)
	}
	if err != nil {
		return nil, nil, err
	}
	item, err := DecodeOutItem(it.Payload)
	if err != nil || it.To != peer || len(item.Sealed) > 0 || it.Attempts > 0 || item.Content == nil {
		return nil, nil, tx.DeleteSetting(name)
	}
	ct, err := content.Decode(item.Content)
	if err != nil || ct.Kind != content.KindReceipt || ct.Receipt != typ || ct.GroupID != group || len(ct.IDs) >= content.MaxReceiptIDs {
		return nil, nil, tx.DeleteSetting(name)
	}
	return &it, ct, nil
}

// unqueueDelivered takes ids out of a waiting delivery receipt to peer for
// group: the read receipt about to be queued says more.
func (c *Core) unqueueDelivered(tx *store.Tx, peer string, group content.GroupID, ids []content.ID) error {
	name := pendingName(peer, group, content.Delivered)
	it, ct, err := c.pendingReceipt(tx, name, peer, group, content.Delivered)
	if err != nil || it == nil {
		return err
	}
	n := len(ct.IDs)
	left := slices.DeleteFunc(ct.IDs, func(id content.ID) bool { return slices.Contains(ids, id) })
	if len(left) == n {
		return nil
	}
	due, err := itemDue(it)
	if err != nil {
		return err
	}
	if err := tx.Dequeue(it.ID); err != nil {
		return err
	}
	return c.queueGroupReceipt(tx, name, peer, group, content.Delivered, left, due, c.Now())
}

// groupRead notes a read receipt for msg, a group text the user just read,
// if the group's receipts are on.
func (c *Core) groupRead(tx *store.Tx, msg Message, id content.ID, reads map[groupRcpt][]content.ID) error {
	if c.groupInfo == nil || msg.Kind != KindText {
		return nil
	}
	gid, err := content.ParseGroupID(msg.Group)
	if err != nil {
		return nil
	}
	info, err := c.groupInfo(tx, msg.Group)
	if err != nil || !info.Receipts {
		return err
	}
	k := groupRcpt{msg.From, gid}
	reads[k] = append(reads[k], id)
	return nil
}

// queueGroupReads queues the read receipts groupRead noted.
func (c *Core) queueGroupReads(tx *store.Tx, reads map[groupRcpt][]content.ID, now time.Time) error {
	for _, k := range sortedRcpts(reads) {
		if err := c.EnqueueGroupReceipt(tx, k.peer, k.group, content.Read, reads[k], now); err != nil {
			return err
		}
	}
	return nil
}

func sortedRcpts(m map[groupRcpt][]content.ID) []groupRcpt {
	keys := make([]groupRcpt, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y groupRcpt) int {
		if x.peer != y.peer {
			return strings.Compare(x.peer, y.peer)
		}
		return strings.Compare(string(x.group[:]), string(y.group[:]))
	})
	return keys
}
