// Package store defines what skyd keeps and the interface every storage
// backend implements: accounts and activation codes, devices with their public
// authentication keys, the prekey directory, and per-device message queues
// with a hard time-to-live.
//
// Everything here is either public key material or opaque ciphertext: no type
// in this package can hold a plaintext message. Backends never read the clock;
// callers pass the current time, so tests control expiry exactly.
//
// Every backend must pass the conformance suite in package storetest.
package store

import (
	"context"
	"time"
)

// Store is a complete skyd storage backend. Implementations are safe for
// concurrent use.
type Store interface {
	Accounts
	PreKeys
	Queue
	Sealed
	Devices

	// Secret returns the server-wide secret named name, creating it from
	// fresh (crypto/rand) bytes of length n on first use. All nodes sharing a
	// database see the same value. It keys non-secret transformations such
	// as hiding the global message sequence inside message IDs.
	Secret(ctx context.Context, name string, n int) ([]byte, error)

	// Close releases the backend's resources.
	Close() error
}

// Address names one device of one account.
type Address struct {
	Account string
	Device  uint32
}

// IsZero reports whether a is the empty address (used for sealed, sender-less
// messages).
func (a Address) IsZero() bool { return a.Account == "" && a.Device == 0 }

// Code is an activation code as stored: only a hash of the code a person
// types, the period it grants, when it stops being valid and the day it was
// made.
type Code struct {
	Hash    [32]byte
	Period  time.Duration
	Expires time.Time
	// Created is the day the code was made (UTC midnight: the hour is not
	// kept); zero when unknown (codes made before the server kept it).
	Created time.Time
}

// Account is a registered account. It deliberately holds nothing that links
// it to the activation code it was created with, other than its end date.
type Account struct {
	ID string
	// Created is the day the account was created (UTC midnight).
	Created time.Time
	// SubscriptionEnd is when sending stops being allowed.
	SubscriptionEnd time.Time
	// Revoked accounts cannot send regardless of SubscriptionEnd.
	Revoked bool
	// IdentityKey is the client's public identity key, opaque to the server.
	IdentityKey []byte
}

// Device is one device of an account.
type Device struct {
	Address
	// AuthKey is the device's public Ed25519 authentication key.
	AuthKey []byte
	// RegistrationID is the client-chosen Signal registration ID.
	RegistrationID uint32
}

// Registration is what creating an account needs.
type Registration struct {
	// CodeHash is the hash of the activation code being redeemed.
	CodeHash [32]byte
	// ID is the new account's ID, chosen at random by the caller; if it is
	// taken, Register returns ErrAccountExists and the caller retries.
	ID             string
	IdentityKey    []byte
	AuthKey        []byte
	RegistrationID uint32
}

// Accounts manages activation codes, accounts and devices.
type Accounts interface {
	// AddCodes stores activation codes (their hashes).
	AddCodes(ctx context.Context, codes []Code) error
	// Register redeems the code and creates the account with device 1, in
	// one transaction. The code is deleted, so nothing links it to the
	// account. Errors: ErrCodeUnknown (never issued or already used),
	// ErrCodeExpired, ErrAccountExists (ID collision).
	Register(ctx context.Context, r Registration, now time.Time) (Account, error)
	// Account returns one account, or ErrNotFound.
	Account(ctx context.Context, id string) (Account, error)
	// ListAccounts returns every account, ordered by ID.
	ListAccounts(ctx context.Context) ([]Account, error)
	// Extend moves the subscription end to max(end, now) + d and clears a
	// revocation. ErrNotFound if there is no such account.
	Extend(ctx context.Context, id string, d time.Duration, now time.Time) (Account, error)
	// Revoke stops the account from sending. ErrNotFound if absent.
	Revoke(ctx context.Context, id string) error
	// DeleteAccount removes the account, its devices, its keys and its
	// queued messages at once. ErrNotFound if absent.
	DeleteAccount(ctx context.Context, id string) error
	// Device returns one device, or ErrNotFound.
	Device(ctx context.Context, a Address) (Device, error)
	// Empty reports whether the store has no accounts and no codes (a
	// first start).
	Empty(ctx context.Context) (bool, error)
	// SweepCodes deletes activation codes that expired at or before now.
	SweepCodes(ctx context.Context, now time.Time) (int64, error)
	// ListCodes returns the unredeemed codes (their hashes, periods,
	// expiry and creation day), ordered by expiry then hash. A redeemed code is gone, so
	// nothing here says who redeemed one.
	ListCodes(ctx context.Context) ([]Code, error)
	// RevokeCode deletes an unredeemed code. ErrNotFound if absent.
	RevokeCode(ctx context.Context, hash [32]byte) error
}

// PreKey is one public prekey as the client uploaded it: an ID, the public
// key and, for signed keys, the signature. The server never parses them.
type PreKey struct {
	ID        uint32
	Key       []byte
	Signature []byte
}

// PreKeyUpload is one atomic upload for a device. Nil or empty fields are
// left unchanged. Uploading a one-time key whose ID exists replaces it, so a
// retried upload is idempotent.
type PreKeyUpload struct {
	SignedEC        *PreKey
	LastResortKyber *PreKey
	OneTimeEC       []PreKey
	OneTimeKyber    []PreKey
}

// Bytes is the size of the keys and signatures in u.
func (u *PreKeyUpload) Bytes() int {
	n := 0
	for _, k := range []*PreKey{u.SignedEC, u.LastResortKyber} {
		if k != nil {
			n += len(k.Key) + len(k.Signature)
		}
	}
	for _, ks := range [][]PreKey{u.OneTimeEC, u.OneTimeKyber} {
		for _, k := range ks {
			n += len(k.Key) + len(k.Signature)
		}
	}
	return n
}

// PreKeyCounts says how many one-time prekeys a device has left.
type PreKeyCounts struct {
	EC    int
	Kyber int
}

// Bundle is what a sender needs to start a session with one device. Taking
// a bundle consumed OneTimeEC (if any) and Kyber (unless KyberLastResort).
type Bundle struct {
	Device          uint32
	RegistrationID  uint32
	IdentityKey     []byte
	SignedEC        PreKey
	Kyber           PreKey
	KyberLastResort bool
	// OneTimeEC is nil when the device has run out.
	OneTimeEC *PreKey
}

// PreKeys is the prekey directory.
type PreKeys interface {
	// UploadPreKeys applies u atomically. ErrNotFound if the device does not
	// exist; ErrTooManyPreKeys if the device would hold more than
	// MaxStoredOneTime one-time keys of a kind.
	UploadPreKeys(ctx context.Context, a Address, u PreKeyUpload) error
	// CountPreKeys reports the remaining one-time keys.
	CountPreKeys(ctx context.Context, a Address) (PreKeyCounts, error)
	// TakeBundles returns a bundle for device (or for every device of the
	// account when device is 0), each consuming one one-time EC and one
	// one-time Kyber prekey atomically: concurrent callers never receive the
	// same one-time key. When the one-time Kyber keys are gone the
	// last-resort key is returned instead. ErrNotFound if the account or
	// device does not exist; ErrNoPreKeys if it has not uploaded a signed EC
	// and a last-resort Kyber key. With oneTime false nothing is consumed:
	// the bundles carry the signed EC and last-resort Kyber keys only.
	TakeBundles(ctx context.Context, account string, device uint32, oneTime bool) ([]Bundle, error)
}

// Sealed keeps what sealed (sender-less) delivery needs: each account's
// delivery-token verifier, and named server-wide values such as the server's
// sealed-sender certificate.
type Sealed interface {
	// SetDeliveryVerifier stores the verifier of account's delivery token;
	// nil removes it. ErrNotFound if there is no such account.
	SetDeliveryVerifier(ctx context.Context, account string, v []byte) error
	// DeliveryVerifier returns account's verifier, nil if it has none.
	// ErrNotFound if there is no such account.
	DeliveryVerifier(ctx context.Context, account string) ([]byte, error)
	// Meta returns the server-wide value named name, ErrNotFound if it was
	// never set. Names are shared with Secret's.
	Meta(ctx context.Context, name string) ([]byte, error)
	// SetMeta sets the server-wide value named name.
	SetMeta(ctx context.Context, name string, value []byte) error
}

// MaxStoredOneTime is how many one-time prekeys of each kind a device may
// hold.
const MaxStoredOneTime = 1000

// NewMessage is a message to enqueue. Every message is sealed: the store
// never learns who sent it.
type NewMessage struct {
	To       Address
	Received time.Time
	Body     []byte
}

// Message is a queued message.
type Message struct {
	// Seq is the store-wide sequence number: unique, and increasing in
	// commit order on one node.
	Seq      uint64
	To       Address
	Received time.Time
	Body     []byte
}

// Ack deletes the listed messages from one device's queue. Sequence
// numbers not in that queue are ignored.
type Ack struct {
	To   Address
	Seqs []uint64
}

// Batch is one group commit: enqueues and acknowledgements applied in one
// durable transaction. WriteBatch fills Seqs, Prevs and Errs, one per
// message.
type Batch struct {
	Messages []NewMessage
	Acks     []Ack
	// QueueCap is the most messages one device queue may hold.
	QueueCap int

	Seqs []uint64
	// Prevs[i] is at least the Seq of every message queued for message i's
	// recipient before it (0 when none is): a connection that has pushed
	// that device everything up to Prevs[i] can push message i next and miss
	// nothing. Without it, a message committed by another process (another
	// node, or a skyd killed while committing) could be passed over by a
	// connection that pushes what its own node commits.
	Prevs []uint64
	// Errs[i] is nil, ErrNotFound (no such recipient device) or
	// ErrQueueFull. A failed message is not stored; the others are.
	Errs []error
}

// PipelinedQueue is a Queue whose commits can overlap their durability:
// skyd then starts writing the next batch while the previous one is still
// being made durable (an fsync), instead of waiting for it.
type PipelinedQueue interface {
	Queue
	// CommitBatch applies b in one transaction, like WriteBatch, but
	// returns before the transaction is durable, with wait, which returns
	// once it is (or the error that prevented it; then the batch's fate is
	// unknown and the store refuses further writes). Pending returns none
	// of b's messages before its wait has returned. Calls must not overlap,
	// but a call may start before earlier waits have returned; waits
	// complete in call order.
	CommitBatch(ctx context.Context, b *Batch) (wait func() error, err error)
}

// Queue is the store-and-forward message queue.
type Queue interface {
	// WriteBatch applies b in one transaction and returns only after it is
	// durable (fsynced, or committed with synchronous_commit on). An error
	// return means nothing in the batch was applied.
	WriteBatch(ctx context.Context, b *Batch) error
	// Pending returns up to limit messages queued for a with Seq > after and
	// Received > cutoff (older ones are expired even before the sweeper
	// runs), in Seq order.
	Pending(ctx context.Context, a Address, after uint64, cutoff time.Time, limit int) ([]Message, error)
	// Sweep deletes every message received at or before cutoff and returns
	// how many it deleted.
	Sweep(ctx context.Context, cutoff time.Time) (int64, error)
}
