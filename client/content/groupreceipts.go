package content

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Receipts in groups. A member confirms a group text to its author only,
// with a KindReceipt that names the group (Content.GroupID, receipt field
// fReceiptGroup) inside their 1:1 session: no other member and nobody
// outside the group learns who received or read what. A client that does
// not know the field reads it as a 1:1 receipt naming messages it does not
// have, and ignores it.
//
// KindGroupReceipts is an admin's switch for them: sent in the admin's 1:1
// session with every member, it sets whether the group's members send
// receipts (Content.Receipts), so that a large group is not flooded.

// KindGroupReceipts sets whether a group's members send receipts.
const KindGroupReceipts Kind = 60

// GroupReceipts is the setting a KindGroupReceipts carries.
type GroupReceipts uint8

// The settings of receipts in a group.
const (
	// ReceiptsDefault: on in groups of up to DefaultReceiptMembers
	// members, off in larger ones.
	ReceiptsDefault GroupReceipts = 0
	ReceiptsOn      GroupReceipts = 1
	ReceiptsOff     GroupReceipts = 2
)

// DefaultReceiptMembers is the largest group whose members send receipts
// unless an admin switched them off (ReceiptsDefault).
const DefaultReceiptMembers = 100

// Field numbers: a receipt's group (inside the receipt body), and the body
// of a KindGroupReceipts {1: group ID, 2: setting}.
const (
	fReceiptGroup = 3

	rxGroup   = 1
	rxSetting = 2
)

func (s GroupReceipts) String() string {
	switch s {
	case ReceiptsDefault:
		return "default"
	case ReceiptsOn:
		return "on"
	case ReceiptsOff:
		return "off"
	}
	return fmt.Sprintf("receipts(%d)", uint8(s))
}

// checkGroupReceipts checks a KindGroupReceipts body.
func (c *Content) checkGroupReceipts() error {
	switch {
	case c.GroupID == GroupID{}:
		return malformed("a receipts setting without a group")
	case c.Receipts > ReceiptsOff:
		return malformed("an unknown receipts setting")
	case c.Seq == 0:
		return malformed("a receipts setting without a sequence number")
	case len(c.Attachments) > 0 || c.Quote != nil || c.Text != "":
		return malformed("a receipts setting carries nothing else")
	}
	return nil
}

func appendGroupReceipts(b []byte, c *Content) []byte {
	b = appendBytes(b, rxGroup, c.GroupID[:])
	if c.Receipts != ReceiptsDefault {
		b = appendVarint(b, rxSetting, uint64(c.Receipts))
	}
	return b
}

func decodeGroupReceipts(c *Content, b []byte) error {
	var seen uint64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return malformed("bad tag in a receipts setting")
		}
		b = b[n:]
		if num < 64 {
			if seen&(1<<num) != 0 {
				return malformed("receipts setting field repeated")
			}
			seen |= 1 << num
		}
		switch num {
		case rxGroup:
			v, err := consumeBytes(&b, typ)
			if err != nil {
				return err
			}
			if len(v) != GroupIDSize {
				return malformed("group ID size")
			}
			copy(c.GroupID[:], v)
		case rxSetting:
			v, err := consumeVarint(&b, typ)
			if err != nil {
				return err
			}
			if v > uint64(ReceiptsOff) {
				return malformed("an unknown receipts setting")
			}
			c.Receipts = GroupReceipts(v)
		default:
			if err := skipField(num, typ, &b); err != nil {
				return err
			}
		}
	}
	return nil
}
