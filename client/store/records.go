package store

import (
	"fmt"
	"time"
)

// Account is the user's own account on a Sky server: what the SDK needs to
// connect, and what a panic wipe needs to delete the account. Its encoding
// must fit the key file's panic payload (about 1 KiB).
type Account struct {
	ID         string // the own Sky ID
	Server     string // the server's URL
	DeviceID   uint32
	Credential Secret // what the server authenticates this device with
}

// String, GoString and Format hide the credential.
func (a Account) String() string {
	return fmt.Sprintf("store.Account{ID: %q, Server: %q, DeviceID: %d, Credential: redacted}", a.ID, a.Server, a.DeviceID)
}
func (a Account) GoString() string              { return a.String() }
func (a Account) Format(f fmt.State, verb rune) { fmt.Fprint(f, a.String()) }

// LocalIdentity is the own identity key pair and registration ID, in the
// protocol core's encoding.
type LocalIdentity struct {
	KeyPair        Secret
	RegistrationID uint32
}

// Address names one device of a peer, as the protocol's sessions do.
type Address struct {
	Name   string // the peer's Sky ID
	Device uint32
}

// PeerIdentity is a peer device's identity public key as first seen (pinned),
// and whether the user verified it.
type PeerIdentity struct {
	Key       []byte // public key, protocol encoding
	Verified  bool
	FirstSeen time.Time
}

// PreKeyKind names one of the protocol's prekey families. IDs are per kind.
type PreKeyKind uint8

const (
	OneTimePreKey PreKeyKind = iota + 1
	SignedPreKey
	KyberPreKey
)

func (k PreKeyKind) valid() bool { return k >= OneTimePreKey && k <= KyberPreKey }

// Contact is a person the user added.
type Contact struct {
	ID      string // Sky ID
	Name    string // the user's name for them
	AddedAt time.Time
}

// Request is a conversation started by someone who is not a contact; it
// waits until the user accepts or rejects it.
type Request struct {
	ID      string // the requester's Sky ID
	FirstAt time.Time
}

// Conversation holds the per-conversation settings.
type Conversation struct {
	ID string // the peer's Sky ID
	// Timer is the disappearing-messages timer; 0 means off.
	Timer     time.Duration
	UpdatedAt time.Time
}

// State is the delivery state of a message.
type State uint8

const (
	Pending   State = iota // outgoing, not yet accepted by the server
	Sent                   // outgoing, accepted by the server
	Delivered              // outgoing, the peer's device confirmed receipt
	Read                   // outgoing: the peer read it; incoming: the user read it
	Received               // incoming, not yet read
	Failed                 // outgoing, could not be sent
)

// Message is one message of a conversation. Everything in it, including who
// sent it and when, is sealed under the message's own key, which the store
// destroys when the message expires.
type Message struct {
	ID           int64  // assigned by AddMessage; the order of the conversation
	Conversation string // the peer's Sky ID
	Sender       string // who wrote it (the own ID for outgoing messages)
	MessageID    string // the sender's stable ID, for receipts; may be empty
	Outgoing     bool
	State        State
	Body         Secret // the SDK's encoded content; the store never reads it
	// Annex is what later messages added to this one (reactions, edits:
	// package client/actions), sealed with it under its key so that it
	// disappears with it; the store never reads it.
	Annex      Secret
	SentAt     time.Time
	ReceivedAt time.Time
	ReadAt     time.Time
	// Timer is the disappearing timer that applies to this message (0: off).
	Timer time.Duration
	// ExpiresAt is when the message is destroyed; zero while no countdown
	// runs. For outgoing messages it is set when the last queued item is
	// sent (Dequeue: that moment plus Timer; AddMessage: SentAt+Timer for a
	// message stored as already sent), never for a Failed one; for incoming
	// ones MarkRead sets ReadAt+Timer. Already set, it is kept.
	ExpiresAt time.Time
	// Failure says why an outgoing message Failed (for the user, until they
	// dismiss the message); empty otherwise.
	Failure string
}

// String, GoString and Format hide the body.
func (m Message) String() string {
	return fmt.Sprintf("store.Message{ID: %d, Outgoing: %t, State: %d, Body: %d bytes redacted}", m.ID, m.Outgoing, m.State, len(m.Body))
}
func (m Message) GoString() string              { return m.String() }
func (m Message) Format(f fmt.State, verb rune) { fmt.Fprint(f, m.String()) }

// Outgoing is an item of the outgoing queue: something to send when the
// server is reachable. An item that belongs to a message (MessageRef) is
// sealed under that message's key and disappears with it.
type Outgoing struct {
	ID         int64  // assigned by Enqueue; the queue's order
	To         string // the recipient's Sky ID
	MessageRef int64  // the Message it carries, or 0
	Payload    Secret // the SDK's encoded item
	CreatedAt  time.Time
	Attempts   int
}

// String, GoString and Format hide the payload.
func (o Outgoing) String() string {
	return fmt.Sprintf("store.Outgoing{ID: %d, MessageRef: %d, Attempts: %d, Payload: %d bytes redacted}", o.ID, o.MessageRef, o.Attempts, len(o.Payload))
}
func (o Outgoing) GoString() string              { return o.String() }
func (o Outgoing) Format(f fmt.State, verb rune) { fmt.Fprint(f, o.String()) }

// Expired reports what Expire did.
type Expired struct {
	Deleted int       // messages destroyed
	Held    int       // messages whose time had come but still had queued items: their countdown waits for sending
	Next    time.Time // the next expiry, zero if none is scheduled
}
