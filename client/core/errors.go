package core

import (
	"errors"
	"fmt"

	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/wire"
)

// Errors of the SDK. Every message says what failed and what to do, and none
// contains a key, a passphrase or message content. Compare with errors.Is.
var (
	// ErrNoAccount: there is no Sky account in this directory (never created,
	// or erased by a panic wipe; the two look the same on purpose).
	ErrNoAccount = store.ErrNoStore
	// ErrAccountExists: Register found a store already there.
	ErrAccountExists = store.ErrExists
	// ErrWrongPassphrase: the passphrase opens nothing.
	ErrWrongPassphrase = store.ErrWrongPassphrase
	// ErrLocked: another process (for example the sky daemon) uses the store.
	ErrLocked = store.ErrLocked

	ErrInvalidID     = errors.New("that is not a Sky ID (10 characters of 2-9 and a-z without i, l, o); check it")
	ErrSelf          = errors.New("that is your own Sky ID; give someone else's")
	ErrInvalidTimer  = errors.New("a disappearing-messages timer is 5 seconds to 4 weeks, or off")
	ErrTooLong       = errors.New("the message is too long (at most 64 KiB of text); shorten it or split it")
	ErrNotFound      = errors.New("no such contact, request or message; check the ID (sky contacts list, sky requests list)")
	ErrOffline       = errors.New("the Sky server is unreachable; what you sent is queued and goes out when sky next connects")
	ErrNotConnected  = errors.New("not connected to the Sky server; check the server address and your network, then try again")
	ErrNoSuchAccount = errors.New("the server knows no such Sky ID, or it has no keys yet; check the ID")
	ErrExpired       = errors.New("your subscription has expired, so you cannot send; ask your server's operator to extend it (receiving still works)")
	ErrRevoked       = errors.New("the operator revoked your account, so you cannot send; ask your server's operator")
	ErrAuthFailed    = errors.New("the server does not accept this device (was the account deleted?); create a new account with sky init")
	ErrClosed        = errors.New("the Sky client is closed; open it again")
	ErrRemoved       = errors.New("this device was removed from its account by another of the account's devices, with a device list signed by the account's key: its data is erased; link it again (sky link) to use it")
	ErrRunning       = errors.New("the Sky client is already running its connection")
)

// IdentityChangedError says that a peer's identity key is not the one pinned
// for them. Nothing is sent to the new key until the user compares safety
// numbers and accepts it (Client.Verify with the number compared). errors.Is(err,
// ErrIdentityChanged) is true.
type IdentityChangedError struct {
	Peer     string
	Verified bool // the old key had been verified
}

// ErrIdentityChanged matches every *IdentityChangedError.
var ErrIdentityChanged = errors.New("a contact's identity key changed")

func (e *IdentityChangedError) Error() string {
	was := ""
	if e.Verified {
		was = "verified "
	}
	return fmt.Sprintf("the identity key of your %scontact %s changed, so nothing is sent to them: it could be a new phone or someone in between; "+
		"compare safety numbers with them in person (sky verify %s) and accept the new key only if they match (sky verify %s --confirm NUMBER)",
		was, e.Peer, e.Peer, e.Peer)
}

// Is makes errors.Is(err, ErrIdentityChanged) true.
func (e *IdentityChangedError) Is(target error) bool { return target == ErrIdentityChanged }

// serverError maps a server refusal to the SDK's error for a person.
func serverError(err error) error {
	switch {
	case errors.Is(err, wire.ErrSubscriptionExpired):
		return ErrExpired
	case errors.Is(err, wire.ErrAccountRevoked):
		return ErrRevoked
	case errors.Is(err, wire.ErrAuthFailed):
		return ErrAuthFailed
	case errors.Is(err, wire.ErrNotFound), errors.Is(err, wire.ErrNoPreKeys):
		return ErrNoSuchAccount
	}
	return err
}
