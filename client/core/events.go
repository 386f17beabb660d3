package core

import (
	"sync"
	"time"
)

// Event is something that happened, delivered to subscribers in order:
// *MessageEvent, *ReceiptEvent, *TimerEvent, *IdentityChangedEvent,
// *GapEvent, *SentEvent, *FailedEvent, *DroppedEvent, *ConnectionEvent,
// *LaggedEvent, *GroupEvent, *UnannouncedDeviceEvent, *ActionEvent,
// *AccessRefusedEvent, *ProfileEvent, *TypingEvent, *AttachmentEvent.
//
// Events are notifications. The store is the truth: a subscriber that missed
// events (LaggedEvent) reads Unread and History again.
type Event interface{ event() }

// MessageEvent: a new incoming message (a text or a timer-change notice),
// released in the sender's order. Message.Request says whether it belongs to
// a message request. With linked devices it is also a text the account sent
// from another of its devices (Message.Outgoing), or a notice that a
// contact's devices changed (KindDevices).
type MessageEvent struct{ Message Message }

// ReceiptEvent: the peer's device confirmed that it received (Delivered) or
// its user read (Read) messages the user sent.
type ReceiptEvent struct {
	Conversation string
	MessageIDs   []string
	State        State
	// By is the member who confirmed, for a group's texts (Conversation
	// is then the group's ID); empty for a 1:1 receipt.
	By string
}

// TimerEvent: the disappearing-messages timer of a conversation changed,
// by the user (By == own ID) or by the peer.
type TimerEvent struct {
	Conversation string
	Timer        time.Duration
	By           string
}

// IdentityChangedEvent: a peer presented an identity key that differs from
// the pinned one. Nothing is sent to them until the user compares safety
// numbers and accepts (Verify with confirm).
type IdentityChangedEvent struct {
	Peer     string
	Verified bool // the old key had been verified
}

// GapEvent: messages from Peer with sequence numbers up to Missing before
// the next shown one never arrived (the server dropped them, or they expired
// before they were sent); later messages are shown anyway. Group is set
// when they are Peer's messages to that group.
type GapEvent struct {
	Peer    string
	Missing int
	Group   string
}

// SentEvent: the server accepted an outgoing message.
type SentEvent struct {
	Conversation string
	MessageID    string
}

// FailedEvent: an outgoing message cannot be sent (Err says why). Messages
// to a contact whose key changed stay queued instead; see
// IdentityChangedEvent.
type FailedEvent struct {
	Conversation string
	MessageID    string
	Err          error
}

// DroppedEvent: an incoming envelope was dropped without showing anything:
// it did not decrypt, was a replay, named a different sender inside than
// outside, or came from someone the user rejected. Reason is for logs; the
// envelope's content is never given.
type DroppedEvent struct {
	From   string // the sender the server claimed
	Reason string
}

// ConnectionEvent: the connection to the server came up (Err == nil) or went
// down (Err says why).
type ConnectionEvent struct {
	Connected bool
	Err       error
}

// LaggedEvent: the subscriber did not keep up and Missed events were
// dropped for it.
type LaggedEvent struct{ Missed int }

// UnannouncedDeviceEvent: the server named a device of Peer that is not on
// Peer's signed device list (device 1 only without one), in the keys it handed
// out or as the sender of a message. Nothing was encrypted to that device,
// and what came from it was dropped. Only a hostile or broken server does
// this.
type UnannouncedDeviceEvent struct {
	Peer   string
	Device uint32
}

// DeviceListEvent: Peer's device list, signed by Peer's identity key,
// changed: Added and Removed devices (by number), Devices all of them now.
// For a contact it says "Peer added a device"; for the own account it is
// the user's own linking or removal (or a device of the account doing it).
type DeviceListEvent struct {
	Peer           string
	Version        uint64
	Devices        []uint32
	Added, Removed []uint32
}

// DeviceListRefusedEvent: the server served a device list for Peer that
// failed the checks (not signed by Peer's key, older than one accepted, a
// different list of the same version, or none after one): it was refused
// and the accepted one kept. Only a hostile or broken server does this.
type DeviceListRefusedEvent struct {
	Peer   string
	Reason string
}

func (*DeviceListEvent) event()        {}
func (*DeviceListRefusedEvent) event() {}
func (*MessageEvent) event()           {}
func (*ReceiptEvent) event()           {}
func (*TimerEvent) event()             {}
func (*IdentityChangedEvent) event()   {}
func (*GapEvent) event()               {}
func (*SentEvent) event()              {}
func (*FailedEvent) event()            {}
func (*DroppedEvent) event()           {}
func (*ConnectionEvent) event()        {}
func (*LaggedEvent) event()            {}
func (*UnannouncedDeviceEvent) event() {}

// GroupChange says what a change of a group changed.
type GroupChange struct {
	By      string // the admin who made it (or the member who left)
	Version uint64
	Name    string // the group's name after it
	// Joined: the group is new to this client (the user created it or was
	// added).
	Joined                     bool
	Added, Removed, Left       []string
	AdminsAdded, AdminsRemoved []string
	Renamed                    bool
	TimerChanged               bool
	Timer                      time.Duration // the group's timer after it
	// LinkChanged: an admin made, replaced or revoked the group's invite
	// link; InviteLink: the group has one after it. JoinRequests: who
	// asked to join with the link (shown only to the admin who got it).
	LinkChanged  bool
	InviteLink   bool
	JoinRequests []string
}

// GroupEvent: a group changed (created, members added or removed, a member
// left, renamed, admins or timer changed), by the user or by an admin. Only
// changes the client accepted are announced; refused ones are dropped
// (DroppedEvent).
type GroupEvent struct {
	Group  string
	Change GroupChange
}

func (*GroupEvent) event() {}

// ActionEvent: someone (By; the own ID for the user's own actions) reacted
// to a message (Action "reaction"; Emoji empty: the reaction was removed),
// edited it ("edit", Text the new text) or deleted it for everyone
// ("delete": it is gone from this device, as if its timer had run out).
type ActionEvent struct {
	Conversation string
	MessageID    string
	By           string
	Action       string
	Emoji, Text  string
}

func (*ActionEvent) event() {}

// ProfileEvent: a contact or group member shared a new version of their
// profile (package client/profile). Name is their claim, never trusted: a
// nickname the user set wins, and a user interface shows Name as theirs
// (see profile.Names). Avatar says whether it has a picture.
type ProfileEvent struct {
	Peer    string
	Name    string
	Version uint64
	Avatar  bool
}

// TypingEvent: a contact (or a member, in Group) started typing to the
// user (Typing true; it stops on its own at Until unless renewed) or
// stopped (package client/typing). Never stored.
type TypingEvent struct {
	Peer   string
	Group  string
	Typing bool
	Until  time.Time
}

func (*ProfileEvent) event() {}
func (*TypingEvent) event()  {}

// subscriptionBuffer is how many events wait for a slow subscriber before
// it starts missing them.
const subscriptionBuffer = 1024

// Subscription receives events from the moment Subscribe returned.
type Subscription struct {
	c      *Core
	ch     chan Event
	mu     sync.Mutex
	missed int
	done   bool
}

// Subscribe starts a subscription to events. Call Close when done.
func (c *Core) Subscribe() *Subscription {
	s := &Subscription{c: c, ch: make(chan Event, subscriptionBuffer)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		s.done = true
		close(s.ch)
		return s
	}
	c.subs[s] = struct{}{}
	return s
}

// Events delivers the events; it is closed when the subscription or the
// client is closed.
func (s *Subscription) Events() <-chan Event { return s.ch }

// Close ends the subscription.
func (s *Subscription) Close() {
	s.c.mu.Lock()
	delete(s.c.subs, s)
	s.c.mu.Unlock()
	s.close()
}

func (s *Subscription) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done {
		s.done = true
		close(s.ch)
	}
}

func (s *Subscription) send(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return
	}
	if s.missed > 0 {
		select {
		case s.ch <- &LaggedEvent{Missed: s.missed}:
			s.missed = 0
		default:
			s.missed++
			return
		}
	}
	select {
	case s.ch <- e:
	default:
		s.missed++
	}
}

// emit sends events to every subscriber.
func (c *Core) Emit(events ...Event) {
	if len(events) == 0 {
		return
	}
	c.mu.Lock()
	subs := make([]*Subscription, 0, len(c.subs))
	for s := range c.subs {
		subs = append(subs, s)
	}
	c.mu.Unlock()
	for _, s := range subs {
		for _, e := range events {
			s.send(e)
		}
	}
}
