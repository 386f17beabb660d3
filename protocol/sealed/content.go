package sealed

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/pb"
)

// MessageType is the kind of ciphertext a Content carries, numbered as
// envelope types are (libsignal's CiphertextMessageType), so the values equal
// protocol.TypeWhisper and protocol.TypePreKey.
type MessageType uint8

// The message types a Content may carry.
const (
	TypeWhisper   MessageType = 2 // a SignalMessage of an established session
	TypePreKey    MessageType = 3 // a PreKeySignalMessage starting a session
	TypeSenderKey MessageType = 7 // a SenderKeyMessage (group)
	TypePlaintext MessageType = 8 // a PlaintextContent (unencrypted control message)
)

// wireType maps a MessageType to the enum written in the Content protobuf,
// where a PreKey message is 1, not 3; the others are equal.
func (t MessageType) wireType() (uint64, bool) {
	switch t {
	case TypePreKey:
		return 1, true
	case TypeWhisper, TypeSenderKey, TypePlaintext:
		return uint64(t), true
	}
	return 0, false
}

func messageTypeFromWire(v uint64) (MessageType, bool) {
	switch uint32(v) { // an enum field: protobuf keeps the low 32 bits
	case 1:
		return TypePreKey, true
	case 2, 7, 8:
		return MessageType(uint32(v)), true
	}
	return 0, false
}

func (t MessageType) String() string {
	switch t {
	case TypeWhisper:
		return "whisper"
	case TypePreKey:
		return "prekey"
	case TypeSenderKey:
		return "senderkey"
	case TypePlaintext:
		return "plaintext"
	}
	return fmt.Sprintf("MessageType(%d)", uint8(t))
}

// ContentHint tells the recipient how to treat a message it cannot decrypt.
// Values other than the three below are kept as they are.
type ContentHint uint32

// The content hints libsignal defines.
const (
	HintDefault    ContentHint = 0 // the sender will not resend: show an error at once
	HintResendable ContentHint = 1 // the sender will try to resend: delay any error
	HintImplicit   ContentHint = 2 // nothing to show (a receipt, a typing message)
)

// Content is what a sealed sender envelope carries (libsignal's
// UnidentifiedSenderMessageContent): the sender's certificate and its
// ciphertext, with the type of that ciphertext, a content hint and an
// optional group ID. Encoded as {1: type, 2: senderCertificate, 3: content,
// 4: contentHint (omitted when HintDefault), 5: groupId (omitted when empty)}.
type Content struct {
	Type    MessageType
	Sender  *SenderCertificate
	Message []byte // the inner ciphertext
	Hint    ContentHint
	GroupID []byte
	// PadTo, when positive, makes Bytes pad the encoding to exactly PadTo
	// bytes with zeros in field 15, which readers skip (see
	// ContentSizeFor). It must leave room: not less than the encoding
	// without padding, and not exactly one byte more. ParseContent leaves
	// it zero.
	PadTo int
}

// Bytes encodes c in libsignal's field order.
func (c *Content) Bytes() ([]byte, error) {
	t, ok := c.Type.wireType()
	if !ok {
		return nil, errs.Newf(errs.InvalidMessage, "sealed content: message type %d cannot be sealed", c.Type)
	}
	if c.Sender == nil {
		return nil, errs.New(errs.InvalidMessage, "sealed content: no sender certificate")
	}
	cert := c.Sender.Bytes()
	b := make([]byte, 0, len(cert)+len(c.Message)+len(c.GroupID)+24)
	b = pb.AppendUint64(b, 1, t)
	b = pb.AppendBytes(b, 2, cert)
	b = pb.AppendBytes(b, 3, c.Message)
	if c.Hint != HintDefault {
		// An enum is an int32 on the wire: values of 2^31 and more are
		// written sign-extended, as libsignal writes them.
		b = pb.AppendUint64(b, 4, uint64(int64(int32(c.Hint))))
	}
	if len(c.GroupID) > 0 {
		b = pb.AppendBytes(b, 5, c.GroupID)
	}
	if c.PadTo > 0 {
		if c.PadTo < len(b) {
			return nil, errs.Newf(errs.InvalidMessage, "sealed content: %d bytes do not fit the padded size %d", len(b), c.PadTo)
		}
		return appendPadding(b, c.PadTo-len(b))
	}
	return b, nil
}

// ParseContent decodes a Content. Type, certificate and message are
// required; the certificate must parse but is not validated. Errors wrap
// protocol.ErrInvalidMessage.
func ParseContent(b []byte) (*Content, error) {
	var (
		c              Content
		typ            uint64
		hasType        bool
		cert, msg      []byte
		hint           uint64
		groupID        []byte
		hasHint, hasID bool
	)
	r := pb.NewReader(b)
	for {
		num, ok := r.Next()
		if !ok {
			break
		}
		switch num {
		case 1:
			typ, hasType = r.Uint64(), true
		case 2:
			cert = r.Bytes()
		case 3:
			msg = r.Bytes()
		case 4:
			hint, hasHint = r.Uint64(), true
		case 5:
			groupID, hasID = r.Bytes(), true
		default:
			r.Skip(protowire.Number(num))
		}
	}
	if r.Err() != nil {
		return nil, errs.Newf(errs.InvalidMessage, "sealed content: %v", r.Err())
	}
	if !hasType || cert == nil || msg == nil {
		return nil, errs.New(errs.InvalidMessage, "sealed content: type, sender certificate or message missing")
	}
	var ok bool
	if c.Type, ok = messageTypeFromWire(typ); !ok {
		return nil, errs.Newf(errs.InvalidMessage, "sealed content: unknown message type %d", typ)
	}
	sender, err := ParseSenderCertificate(cert)
	if err != nil {
		return nil, errs.Newf(errs.InvalidMessage, "sealed content: %s", errs.Detail(err))
	}
	c.Sender = sender
	c.Message = clone(msg)
	if hasHint {
		c.Hint = ContentHint(uint32(hint))
	}
	if hasID {
		c.GroupID = clone(groupID)
	}
	return &c, nil
}
