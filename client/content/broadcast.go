package content

import (
	"google.golang.org/protobuf/encoding/protowire"
)

// Broadcast lists over sealed sender v2 (package client/broadcast). A
// sender's broadcast list has a random 16-byte list ID (Content.GroupID),
// which is also the distribution ID of the sender key it encrypts the
// list's texts with:
//
//   - KindBroadcastKey: the sender's sender key for one of its lists (a
//     libsignal SenderKeyDistributionMessage, Content.Distribution) and the
//     sequence number of its next text to the list (NextSeq), sent inside
//     the 1:1 session with each recipient, like a group's sender key.
//   - KindBroadcastText: a text to the list, encrypted once with that
//     sender key and sent to every recipient as one multi-recipient
//     message; its body is a text's (KindText) plus the list ID, and it
//     names no recipient. The recipient shows it in the 1:1 conversation
//     with the sender; it learns nothing of the other recipients.
const (
	KindBroadcastKey  Kind = 61
	KindBroadcastText Kind = 62
)

// fBroadcastList is the list ID's field in both bodies; the key's body is
// {9: list ID, 10: distribution, 11: next sequence number}.
const (
	fBroadcastList = 9
	fBroadcastDist = 10
	fBroadcastNext = 11
)

// noRecipient reports whether k is addressed to several recipients at once
// rather than to one.
func noRecipient(k Kind) bool { return groupWide(k) || k == KindBroadcastText }

// checkBroadcast checks the broadcast bodies.
func (c *Content) checkBroadcast() error {
	switch {
	case c.GroupID == GroupID{}:
		return malformed("a broadcast without its list")
	case c.Kind == KindBroadcastKey && (len(c.Distribution) == 0 || len(c.Distribution) > MaxDistributionBytes || c.NextSeq == 0):
		return malformed("a bad broadcast sender key")
	case c.Kind == KindBroadcastKey && (c.Text != "" || len(c.Attachments) > 0 || c.Quote != nil):
		return malformed("a broadcast sender key carries nothing else")
	case c.Seq == 0:
		return malformed("a broadcast without a sequence number")
	}
	if c.Kind == KindBroadcastText {
		text := *c
		text.Kind, text.Recipient, text.GroupID = KindText, "x", GroupID{}
		return text.Check()
	}
	return nil
}

func appendBroadcastKey(b []byte, c *Content) []byte {
	b = appendBytes(b, fBroadcastList, c.GroupID[:])
	b = appendBytes(b, fBroadcastDist, c.Distribution)
	return appendVarint(b, fBroadcastNext, c.NextSeq)
}

// decodeBroadcast reads a broadcast body: a text's fields as KindText has
// them, and the list's fields.
func decodeBroadcast(c *Content, b []byte) error {
	if c.Kind == KindBroadcastText {
		c.Kind = KindText
		err := decodeBody(c, b)
		c.Kind = KindBroadcastText
		if err != nil {
			return err
		}
	}
	var seen uint64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return malformed("bad tag in a broadcast")
		}
		b = b[n:]
		if num < fBroadcastList || num > fBroadcastNext {
			if err := skipField(num, typ, &b); err != nil {
				return err
			}
			continue
		}
		if seen&(1<<num) != 0 {
			return malformed("broadcast field repeated")
		}
		seen |= 1 << num
		switch {
		case num == fBroadcastNext && c.Kind == KindBroadcastKey:
			v, err := consumeVarint(&b, typ)
			if err != nil {
				return err
			}
			c.NextSeq = v
		case num == fBroadcastList || (num == fBroadcastDist && c.Kind == KindBroadcastKey):
			v, err := consumeBytes(&b, typ)
			if err != nil {
				return err
			}
			if num == fBroadcastDist {
				if len(v) > MaxDistributionBytes {
					return malformed("a broadcast sender key too large")
				}
				c.Distribution = append([]byte(nil), v...)
			} else if len(v) != GroupIDSize {
				return malformed("broadcast list ID size")
			} else {
				copy(c.GroupID[:], v)
			}
		default:
			if err := skipField(num, typ, &b); err != nil {
				return err
			}
		}
	}
	return nil
}
