package sealed

import "errors"

// The errors of sealed sender that have no counterpart among the protocol's
// own kinds. Every other failure wraps one of those (protocol.ErrInvalidMessage
// for an envelope that is malformed or fails its MACs, protocol.ErrInvalidKey
// for a bad key given by the caller); test all of them with errors.Is.
var (
	// ErrInvalidCertificate: the sender certificate (or the server certificate
	// inside it) is not signed under a trusted root, was revoked, has expired,
	// or cannot be used.
	ErrInvalidCertificate = errors.New("invalid sender certificate: it is not signed under a trusted root, " +
		"was revoked or has expired; the sender must fetch a fresh certificate from its server")
	// ErrSelfSend: a sealed message claims to come from this very device.
	ErrSelfSend = errors.New("sealed sender message from this device itself; drop it")
)
