package protocol

import "github.com/skymsg/sky/protocol/internal/errs"

// The errors of the protocol core. Every error returned by this package and
// its subpackages wraps one of them; test with errors.Is. Their text says
// what went wrong and what to do, and never contains key material.
var (
	// ErrUntrustedIdentity: the peer's identity key differs from the recorded one.
	ErrUntrustedIdentity = errs.UntrustedIdentity
	// ErrDuplicateMessage: the message was already decrypted.
	ErrDuplicateMessage = errs.DuplicateMessage
	// ErrInvalidMessage: bad MAC, bad format, bad version, or not for this session.
	ErrInvalidMessage = errs.InvalidMessage
	// ErrInvalidKey: a key is malformed, of the wrong type or not canonical.
	ErrInvalidKey = errs.InvalidKey
	// ErrInvalidSignature: a prekey signature does not verify.
	ErrInvalidSignature = errs.InvalidSignature
	// ErrNoSession: no usable session exists for the address.
	ErrNoSession = errs.NoSession
	// ErrInvalidState: a stored record is corrupt or of an unknown format.
	ErrInvalidState = errs.InvalidState
)
