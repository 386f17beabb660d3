// Package errs holds the typed errors of Sky's protocol core.
//
// Every error the protocol packages return wraps exactly one of the sentinel
// values below, so callers test them with errors.Is. The package protocol
// re-exports them under the names callers should use (protocol.ErrNoSession
// and so on); this package exists only so that the leaf packages (curve,
// message, ratchet, ...) can return them without an import cycle.
//
// Messages never contain key material or plaintext.
package errs

import (
	"errors"
	"fmt"
)

// The sentinel errors. Their text says what failed and what to do about it.
var (
	UntrustedIdentity = errors.New("untrusted identity: the contact's identity key differs from the one recorded; " +
		"compare safety numbers and accept the new key before exchanging messages")
	DuplicateMessage = errors.New("duplicate message: this message was already decrypted; drop the copy")
	InvalidMessage   = errors.New("invalid message: it is malformed, was altered, or does not belong to this session; " +
		"ask the sender to send it again")
	InvalidKey = errors.New("invalid key: a key is malformed, of the wrong type or not canonical; " +
		"fetch the contact's keys again")
	InvalidSignature = errors.New("invalid signature: a prekey is not signed by the identity key it came with; " +
		"fetch a fresh prekey bundle and do not use this one")
	NoSession = errors.New("no session: there is no usable session with this contact; " +
		"fetch their prekey bundle to start one")
	InvalidState = errors.New("invalid stored state: a stored session or key record is corrupt or of an unknown format; " +
		"delete it and start a new session")
)

// detailed is an error of one kind with a detail that says which check failed.
type detailed struct {
	kind   error
	detail string
}

func (e *detailed) Error() string { return e.kind.Error() + " (" + e.detail + ")" }
func (e *detailed) Unwrap() error { return e.kind }

// New returns an error of the given kind (one of the sentinels) whose text adds
// a detail. The detail must not contain secrets.
func New(kind error, detail string) error {
	return &detailed{kind: kind, detail: detail}
}

// Newf is New with a formatted detail.
func Newf(kind error, format string, args ...any) error {
	return &detailed{kind: kind, detail: fmt.Sprintf(format, args...)}
}
