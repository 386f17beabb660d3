package main

import (
	"errors"

	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/sealed"
)

// errorType maps an error onto the error_type names of the peer protocol.
func errorType(err error) string {
	switch {
	case isBadRequest(err):
		return "BadRequest"
	case errors.Is(err, protocol.ErrDuplicateMessage):
		return "DuplicatedMessage"
	case errors.Is(err, sealed.ErrInvalidCertificate):
		return "InvalidSenderCertificate"
	case errors.Is(err, protocol.ErrUntrustedIdentity):
		return "UntrustedIdentity"
	case errors.Is(err, protocol.ErrInvalidMessage):
		return "InvalidMessage"
	case errors.Is(err, protocol.ErrInvalidKey):
		return "InvalidKey"
	case errors.Is(err, protocol.ErrInvalidSignature):
		return "InvalidSignature"
	case errors.Is(err, protocol.ErrNoSession):
		return "NoSession"
	}
	return "Generic"
}
