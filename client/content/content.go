// Package content is the plaintext Sky clients put inside the Signal
// session: one Content per message, in Sky's own versioned encoding, padded
// before it is encrypted (to a few size buckets with Pad, or just marked with
// PadForSealing when the sealed envelope around it is padded instead).
//
// A Content names its sender and recipient (so a server that rewrites the
// envelope's sender is caught), carries the sender's stable message ID (for
// deduplication and receipts) and a per-conversation sequence number (so the
// recipient shows messages in the sender's order and notices gaps), and holds
// exactly one body: a text, a change of the disappearing-messages timer, or a
// delivery or read receipt. Every control message therefore travels inside the
// peer's authenticated session; nothing outside it is trusted.
//
// The encoding is protobuf wire format written and read with protowire:
// field numbers are the format, every length and type is checked before use,
// unknown fields are skipped (so later versions can add fields), and an
// unknown body kind is reported as ErrUnsupported rather than guessed at.
package content

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Version is the encoding version this package writes. Decode accepts
// versions up to it.
const Version = 1

// Limits of a Content.
const (
	// IDSize is the size of a message ID.
	IDSize = 16
	// MaxAccountBytes bounds the sender and recipient IDs.
	MaxAccountBytes = 64
	// MaxTextBytes bounds a text body, so that a padded message fits the
	// server's 256 KiB limit with room for the session's overhead.
	MaxTextBytes = 64 << 10
	// AccessKeySize is the size of an access key.
	AccessKeySize = 32
	// DirectoryHeadSize is the size of a key directory head a sender
	// shares (a keytrans.SignedHead).
	DirectoryHeadSize = 148
	// MaxReceiptIDs bounds the message IDs of one receipt.
	MaxReceiptIDs = 1000
	// MinTimer and MaxTimer bound a disappearing-messages timer; 0 is off.
	MinTimer = 5 * time.Second
	MaxTimer = 4 * 7 * 24 * time.Hour
)

// Errors of Decode and Check; test with errors.Is.
var (
	ErrMalformed   = errors.New("the message content is malformed")
	ErrUnsupported = errors.New("the message uses a newer Sky format; upgrade Sky to read it")
)

// Kind is the kind of a Content's body.
type Kind uint8

// The body kinds. Their values are the body's field numbers.
const (
	KindText        Kind = 10
	KindTimerChange Kind = 11
	KindReceipt     Kind = 12
)

func (k Kind) String() string {
	switch k {
	case KindText:
		return "text"
	case KindTimerChange:
		return "timer"
	case KindReceipt:
		return "receipt"
	case KindGroupText:
		return "group text"
	case KindGroupUpdate:
		return "group update"
	case KindGroupLeave:
		return "group leave"
	case KindSenderKey:
		return "sender key"
	case KindGroupNotice:
		return "group notice"
	case KindGroupSync:
		return "group sync"
	case KindGroupJoin:
		return "group join request"
	case KindReaction, KindEdit, KindDelete:
		return actionName(k)
	case KindProfile:
		return "profile"
	case KindTyping:
		return "typing"
	case KindAccessRequest:
		return "access request"
	case KindAccessKey:
		return "access key"
	case KindGroupReceipts:
		return "group receipts"
	case KindBroadcastKey:
		return "broadcast key"
	case KindBroadcastText:
		return "broadcast text"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ReceiptType says what a receipt confirms.
type ReceiptType uint8

// The receipt types.
const (
	Delivered ReceiptType = 1
	Read      ReceiptType = 2
)

// ID is a message's stable ID, chosen at random by its sender.
type ID [IDSize]byte

// String returns the ID in hex.
func (id ID) String() string { return fmt.Sprintf("%x", id[:]) }

// ParseID decodes a hex ID as String writes it.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*IDSize {
		return id, fmt.Errorf("%w: a message ID is %d hex digits", ErrMalformed, 2*IDSize)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("%w: a message ID is hex digits", ErrMalformed)
	}
	return id, nil
}

// Content is one message's plaintext.
type Content struct {
	Version      uint32
	Sender       string // the sender's Sky ID
	SenderDevice uint32
	Recipient    string // the recipient's Sky ID; empty for a group text or notice
	ID           ID
	SentAt       time.Time // the sender's clock, millisecond precision
	// Seq numbers the sender's shown messages (texts and timer changes) in
	// this conversation, from 1; receipts carry 0.
	Seq uint64
	// AccessKey, when set, is the sender's access key (AccessKeySize
	// bytes): the secret its delivery token derives from, which lets the
	// recipient send it sealed messages without naming itself to the
	// server. Senders share it only with their contacts.
	AccessKey []byte
	// DirectoryHead, when set, is the newest signed head of the server's
	// key directory the sender has seen (DirectoryHeadSize bytes), so that
	// contacts compare what the directory shows each of them (a server
	// showing different people different trees is caught).
	DirectoryHead []byte

	Kind Kind
	Text string // KindText
	// Attachments are the encoded pointers (client/attach/pointer) of
	// the files a text carries (KindText, KindGroupText), at most
	// MaxAttachments; the text is their caption.
	Attachments [][]byte
	// Quote is the message a text (KindText, KindGroupText) replies to.
	Quote *Quote
	// Target is the message an action (KindReaction, KindEdit,
	// KindDelete) acts on; Text is a reaction's emoji (empty: removed) or
	// an edit's new text, and GroupID the target's group, if any.
	Target  ID
	Timer   time.Duration // KindText: the timer of this message; KindTimerChange: the new timer
	TimerV  uint64        // KindTimerChange: the change's version (see the client package)
	Receipt ReceiptType   // KindReceipt
	IDs     []ID          // KindReceipt: the messages it confirms
	// Receipts is a group's receipts setting (KindGroupReceipts, whose
	// GroupID names the group). A KindReceipt with a GroupID confirms
	// group texts (groupreceipts.go).
	Receipts GroupReceipts

	// The group kinds (group.go). Timer is the group's timer in texts,
	// updates and notices.
	GroupID      GroupID      // every group kind
	Group        *Group       // KindGroupUpdate
	Distribution []byte       // KindSenderKey: a sender key distribution message
	NextSeq      uint64       // KindSenderKey: the sequence number of the sender's next group text
	Notice       *GroupNotice // KindGroupNotice
	// GroupHead is the sender's head of the group's signed versions
	// (GroupHeadSize bytes: version number, big-endian, and digest), in
	// KindGroupText and KindGroupSync; JoinSecret is an invite link's
	// secret, in KindGroupJoin.
	GroupHead  []byte
	JoinSecret []byte

	// Profiles and typing (profile.go); GroupID names a group both are in
	// when the sender is not the recipient's contact.
	Profile *Profile // KindProfile
	Typing  bool     // KindTyping: started (true) or stopped

	// DeviceList is the version of the sender's own signed device list as
	// the sender knows it (0: none), so a recipient whose copy is older
	// asks the server again, and notices a server that withholds it.
	DeviceList uint64

	// Inner is, in KindSentSync, the encoded Content of a message this
	// account sent from another of its devices (devices.go).
	Inner []byte
}

// Format hides the text under every fmt verb: content is never logged.
func (c Content) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "content.Content{%s from %s.%d to %s, %d text bytes}", c.Kind, c.Sender, c.SenderDevice, c.Recipient, len(c.Text))
}

// ValidTimer reports whether d is a timer a conversation may have: 0 (off)
// or 5 seconds to 4 weeks.
func ValidTimer(d time.Duration) bool {
	return d == 0 || (d >= MinTimer && d <= MaxTimer)
}

// Check reports whether c is well formed: what Encode requires and what
// Decode guarantees.
func (c *Content) Check() error {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrMalformed, why) }
	switch {
	case c.Sender == "" || len(c.Sender) > MaxAccountBytes || !utf8.ValidString(c.Sender):
		return bad("bad sender")
	case noRecipient(c.Kind) && c.Recipient != "":
		return bad("a group text or notice names a recipient")
	case !noRecipient(c.Kind) && !(c.Kind == KindGroupUpdate && c.Recipient == "") && (c.Recipient == "" || len(c.Recipient) > MaxAccountBytes || !utf8.ValidString(c.Recipient)):
		return bad("bad recipient")
	case c.SenderDevice == 0:
		return bad("no sender device")
	case c.ID == ID{}:
		return bad("no message ID")
	case c.SentAt.IsZero():
		return bad("no send time")
	case len(c.AccessKey) != 0 && len(c.AccessKey) != AccessKeySize:
		return bad("bad access key")
	case len(c.DirectoryHead) != 0 && len(c.DirectoryHead) != DirectoryHeadSize:
		return bad("bad key directory head")
	}
	switch c.Kind {
	case KindText:
		if len(c.Text) > MaxTextBytes || !utf8.ValidString(c.Text) {
			return bad("the text is too long or not UTF-8")
		}
		if err := checkAttachments(c.Attachments); err != nil {
			return err
		}
		if !ValidTimer(c.Timer) || c.Seq == 0 {
			return bad("bad timer or sequence number")
		}
		if err := checkQuote(c.Quote); err != nil {
			return err
		}
	case KindDeviceNotice:
		return c.checkDeviceNotice()
	case KindSentSync, KindSettingsSync:
		return c.checkSentSync()
	case KindDevicesChanged:
		return c.checkDevicesChanged()
	case KindReaction, KindEdit, KindDelete:
		return c.checkAction()
	case KindProfile, KindTyping:
		return c.checkPresence()
	case KindAccessRequest, KindAccessKey:
		return c.checkAccess()
	case KindTimerChange:
		if len(c.Attachments) > 0 {
			return bad("attachments on a message that cannot carry them")
		}
		if !ValidTimer(c.Timer) || c.Seq == 0 || c.TimerV == 0 {
			return bad("bad timer change")
		}
	case KindReceipt:
		if len(c.Attachments) > 0 {
			return bad("attachments on a message that cannot carry them")
		}
		if c.Receipt != Delivered && c.Receipt != Read {
			return bad("unknown receipt type")
		}
		if len(c.IDs) == 0 || len(c.IDs) > MaxReceiptIDs || c.Seq != 0 {
			return bad("a receipt names 1 to 1000 messages and has no sequence number")
		}
	case KindGroupReceipts:
		return c.checkGroupReceipts()
	case KindBroadcastKey, KindBroadcastText:
		return c.checkBroadcast()
	case KindGroupText, KindGroupUpdate, KindGroupLeave, KindSenderKey, KindGroupNotice, KindGroupSync, KindGroupJoin:
		if c.Kind == KindGroupText {
			if err := checkAttachments(c.Attachments); err != nil {
				return err
			}
			if err := checkQuote(c.Quote); err != nil {
				return err
			}
		} else if len(c.Attachments) > 0 || c.Quote != nil {
			return bad("attachments on a message that cannot carry them")
		}
		return c.checkGroup()
	default:
		return fmt.Errorf("%w (body kind %d)", ErrUnsupported, c.Kind)
	}
	return nil
}
