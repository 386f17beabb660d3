package content

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of the encoding. Bodies take 10..99; a body number this
// version does not know is ErrUnsupported.
const (
	fVersion      = 1
	fSender       = 2
	fSenderDevice = 3
	fRecipient    = 4
	fID           = 5
	fSentAt       = 6 // unix milliseconds
	fSeq          = 7
	fAccessKey    = 8
	fDirHead      = 9
	// fDevList is the version of the sender's own signed device list
	// (linked devices): outside the body numbers, so older clients skip it.
	fDevList = 100

	firstBody = 10
	lastBody  = 99

	// inside a text body
	fTextBody  = 1
	fTextTimer = 2 // seconds
	// inside a timer change
	fTimerSeconds = 1
	fTimerVersion = 2
	// inside a receipt
	fReceiptType = 1
	fReceiptIDs  = 2
)

// Encode returns the encoding of c, which must pass Check. The version
// written is Version.
func Encode(c *Content) ([]byte, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 64+len(c.Text)+len(c.IDs)*(IDSize+2)+profileSize(c))
	b = appendVarint(b, fVersion, Version)
	b = appendString(b, fSender, c.Sender)
	b = appendVarint(b, fSenderDevice, uint64(c.SenderDevice))
	if c.Recipient != "" {
		b = appendString(b, fRecipient, c.Recipient)
	}
	b = appendBytes(b, fID, c.ID[:])
	b = appendVarint(b, fSentAt, uint64(c.SentAt.UnixMilli()))
	if c.Seq != 0 {
		b = appendVarint(b, fSeq, c.Seq)
	}
	if len(c.AccessKey) > 0 {
		b = appendBytes(b, fAccessKey, c.AccessKey)
	}
	if len(c.DirectoryHead) > 0 {
		b = appendBytes(b, fDirHead, c.DirectoryHead)
	}
	if c.DeviceList != 0 {
		b = appendVarint(b, fDevList, c.DeviceList)
	}
	var body []byte
	switch c.Kind {
	case KindText:
		body = appendTextBody(body, c)
	case KindDeviceNotice:
		body = appendString(body, fTextBody, c.Text)
	case KindSentSync, KindSettingsSync:
		body = appendBytes(body, fInner, c.Inner)
	case KindDevicesChanged: // no body: the version is in the header
	case KindReaction, KindEdit, KindDelete:
		body = appendActionBody(body, c)
	case KindProfile, KindTyping:
		body = appendPresenceBody(body, c)
	case KindAccessRequest, KindAccessKey: // no body: the access key is in the header
	case KindTimerChange:
		body = appendVarint(body, fTimerSeconds, uint64(c.Timer/time.Second))
		body = appendVarint(body, fTimerVersion, c.TimerV)
	case KindReceipt:
		body = appendVarint(body, fReceiptType, uint64(c.Receipt))
		for _, id := range c.IDs {
			body = appendBytes(body, fReceiptIDs, id[:])
		}
		if c.GroupID != (GroupID{}) {
			body = appendBytes(body, fReceiptGroup, c.GroupID[:])
		}
	case KindGroupReceipts:
		body = appendGroupReceipts(body, c)
	case KindBroadcastKey:
		body = appendBroadcastKey(body, c)
	case KindBroadcastText:
		text := *c
		text.Kind = KindText
		body = appendTextBody(body, &text)
		body = appendBytes(body, fBroadcastList, c.GroupID[:])
	default:
		body = appendGroupBody(body, c)
	}
	b = protowire.AppendTag(b, protowire.Number(c.Kind), protowire.BytesType)
	return protowire.AppendBytes(b, body), nil
}

// Decode parses an encoding made by Encode (of this or an earlier version,
// or a later one that only added fields) and checks the result with Check.
// It never panics and allocates no more than the input's size.
func Decode(b []byte) (*Content, error) {
	c := new(Content)
	var seen uint64 // bit n: field n was present
	var body []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, malformed("bad tag")
		}
		b = b[n:]
		if num < 64 {
			if seen&(1<<num) != 0 && num != 0 {
				return nil, malformed(fmt.Sprintf("field %d repeated", num))
			}
			seen |= 1 << num
		}
		switch {
		case num == fDevList:
			v, err := consumeVarint(&b, typ)
			if err != nil {
				return nil, err
			}
			c.DeviceList = v
		case num == fVersion || num == fSenderDevice || num == fSentAt || num == fSeq:
			v, err := consumeVarint(&b, typ)
			if err != nil {
				return nil, err
			}
			switch num {
			case fVersion:
				if v == 0 || v > Version {
					if v > Version && v <= 1<<32-1 {
						return nil, fmt.Errorf("%w (version %d)", ErrUnsupported, v)
					}
					return nil, malformed("bad version")
				}
				c.Version = uint32(v)
			case fSenderDevice:
				if v > 1<<32-1 {
					return nil, malformed("device out of range")
				}
				c.SenderDevice = uint32(v)
			case fSentAt:
				if v == 0 || v > 1<<62 {
					return nil, malformed("send time out of range")
				}
				c.SentAt = time.UnixMilli(int64(v))
			case fSeq:
				c.Seq = v
			}
		case num == fSender || num == fRecipient || num == fID || num == fAccessKey || num == fDirHead:
			v, err := consumeBytes(&b, typ)
			if err != nil {
				return nil, err
			}
			switch num {
			case fSender:
				c.Sender = string(v)
			case fRecipient:
				c.Recipient = string(v)
			case fID:
				if len(v) != IDSize {
					return nil, malformed("message ID size")
				}
				copy(c.ID[:], v)
			case fAccessKey:
				if len(v) != AccessKeySize {
					return nil, malformed("access key size")
				}
				c.AccessKey = append([]byte(nil), v...)
			case fDirHead:
				if len(v) != DirectoryHeadSize {
					return nil, malformed("key directory head size")
				}
				c.DirectoryHead = append([]byte(nil), v...)
			}
		case num >= firstBody && num <= lastBody:
			if c.Kind != 0 {
				return nil, malformed("two bodies")
			}
			v, err := consumeBytes(&b, typ)
			if err != nil {
				return nil, err
			}
			c.Kind, body = Kind(num), v
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, malformed("bad field")
			}
			b = b[n:]
		}
	}
	if c.Version == 0 {
		return nil, malformed("no version")
	}
	if c.Kind == 0 {
		return nil, malformed("no body")
	}
	if err := decodeBody(c, body); err != nil {
		return nil, err
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	return c, nil
}

func decodeBody(c *Content, b []byte) error {
	if IsGroup(c.Kind) {
		return decodeGroupBody(c, b)
	}
	if IsAction(c.Kind) {
		return decodeActionBody(c, b)
	}
	if c.Kind == KindProfile || c.Kind == KindTyping {
		return decodePresenceBody(c, b)
	}
	if c.Kind == KindGroupReceipts {
		return decodeGroupReceipts(c, b)
	}
	if c.Kind == KindBroadcastKey || c.Kind == KindBroadcastText {
		return decodeBroadcast(c, b)
	}
	var seen uint64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return malformed("bad tag in body")
		}
		b = b[n:]
		repeatable := c.Kind == KindReceipt && num == fReceiptIDs || c.Kind == KindText && num == fTextAttachment
		if num < 64 && !repeatable {
			if seen&(1<<num) != 0 {
				return malformed(fmt.Sprintf("body field %d repeated", num))
			}
			seen |= 1 << num
		}
		switch {
		case (c.Kind == KindSentSync || c.Kind == KindSettingsSync) && num == fInner:
			v, err := consumeBytes(&b, typ)
			if err != nil {
				return err
			}
			c.Inner = append([]byte(nil), v...)
		case (c.Kind == KindText || c.Kind == KindDeviceNotice) && num == fTextBody:
			v, err := consumeBytes(&b, typ)
			if err != nil {
				return err
			}
			c.Text = string(v)
		case (c.Kind == KindText && num == fTextTimer) || (c.Kind == KindTimerChange && num == fTimerSeconds):
			v, err := consumeVarint(&b, typ)
			if err != nil {
				return err
			}
			if v > uint64(MaxTimer/time.Second) {
				return malformed("timer out of range")
			}
			c.Timer = time.Duration(v) * time.Second
		case c.Kind == KindTimerChange && num == fTimerVersion:
			v, err := consumeVarint(&b, typ)
			if err != nil {
				return err
			}
			c.TimerV = v
		case c.Kind == KindReceipt && num == fReceiptGroup:
			v, err := consumeBytes(&b, typ)
			if err != nil {
				return err
			}
			if len(v) != GroupIDSize {
				return malformed("receipt group ID size")
			}
			copy(c.GroupID[:], v)
		case c.Kind == KindReceipt && num == fReceiptType:
			v, err := consumeVarint(&b, typ)
			if err != nil {
				return err
			}
			if v > 255 {
				return malformed("receipt type out of range")
			}
			c.Receipt = ReceiptType(v)
		case c.Kind == KindText && num == fTextQuote:
			if err := consumeQuote(c, typ, &b); err != nil {
				return err
			}
		case c.Kind == KindText && num == fTextAttachment:
			if err := consumeAttachment(c, typ, &b); err != nil {
				return err
			}
		case repeatable:
			v, err := consumeBytes(&b, typ)
			if err != nil {
				return err
			}
			if len(v) != IDSize || len(c.IDs) >= MaxReceiptIDs {
				return malformed("bad receipt ID")
			}
			c.IDs = append(c.IDs, ID(v))
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return malformed("bad body field")
			}
			b = b[n:]
		}
	}
	return nil
}

func malformed(why string) error { return fmt.Errorf("%w: %s", ErrMalformed, why) }

func consumeVarint(b *[]byte, typ protowire.Type) (uint64, error) {
	if typ != protowire.VarintType {
		return 0, malformed("expected a number")
	}
	v, n := protowire.ConsumeVarint(*b)
	if n < 0 {
		return 0, malformed("bad number")
	}
	*b = (*b)[n:]
	return v, nil
}

func consumeBytes(b *[]byte, typ protowire.Type) ([]byte, error) {
	if typ != protowire.BytesType {
		return nil, malformed("expected bytes")
	}
	v, n := protowire.ConsumeBytes(*b)
	if n < 0 {
		return nil, malformed("bad length")
	}
	*b = (*b)[n:]
	return v, nil
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendString(b []byte, num protowire.Number, v string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, v)
}

func appendTextBody(body []byte, c *Content) []byte {
	body = appendString(body, fTextBody, c.Text)
	if c.Timer != 0 {
		body = appendVarint(body, fTextTimer, uint64(c.Timer/time.Second))
	}
	body = appendAttachments(body, fTextAttachment, c.Attachments)
	return appendQuote(body, fTextQuote, c.Quote)
}
