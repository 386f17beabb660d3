package senderkey

import (
	"fmt"

	"github.com/skymsg/sky/protocol/internal/errs"
)

// groupError is an error of one of the protocol's kinds (errors.Is matches
// protocol.ErrNoSession and so on) whose text gives advice that fits group
// messages rather than 1:1 sessions.
type groupError struct {
	kind error
	text string
}

func (e *groupError) Error() string { return e.text }
func (e *groupError) Unwrap() error { return e.kind }

// noSenderKey: the sender's key for the distribution (or that chain) is not
// known; it matches protocol.ErrNoSession.
func noSenderKey(format string, args ...any) error {
	return &groupError{errs.NoSession, "no sender key: " + fmt.Sprintf(format, args...) +
		"; the sender must send its distribution message (over a 1:1 session) before its group messages"}
}

// badSignature: the message is not signed by the sender key's signing key; it
// matches protocol.ErrInvalidSignature.
func badSignature() error {
	return &groupError{errs.InvalidSignature, "invalid signature: the group message is not signed by the sender's " +
		"signing key for this distribution; it was altered or forged, drop it"}
}

func invalidMessage(format string, args ...any) error {
	return errs.Newf(errs.InvalidMessage, "group message: "+format, args...)
}

func invalidDistribution(format string, args ...any) error {
	return errs.Newf(errs.InvalidMessage, "sender key distribution message: "+format, args...)
}

func invalidState(format string, args ...any) error {
	return errs.Newf(errs.InvalidState, "sender key record: "+format, args...)
}
