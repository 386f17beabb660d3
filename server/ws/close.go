package ws

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// StatusCode is a close frame's status (RFC 6455 section 7.4).
type StatusCode uint16

// Status codes skyd uses; 4000–4999 are for applications.
const (
	StatusNormalClosure   StatusCode = 1000
	StatusGoingAway       StatusCode = 1001
	StatusProtocolError   StatusCode = 1002
	StatusUnsupportedData StatusCode = 1003
	StatusNoStatus        StatusCode = 1005 // never sent: a close frame without a status
	StatusInvalidPayload  StatusCode = 1007
	StatusPolicyViolation StatusCode = 1008
	StatusMessageTooBig   StatusCode = 1009
	StatusInternalError   StatusCode = 1011
	StatusTryAgainLater   StatusCode = 1013
)

// AppendClose appends a close frame carrying code and reason (cut to fit a
// control frame). A nil mask makes a server frame.
func AppendClose(dst []byte, code StatusCode, reason string, mask *[4]byte) []byte {
	if len(reason) > maxControlPayload-2 {
		reason = reason[:maxControlPayload-2]
		for !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	var p [maxControlPayload]byte
	binary.BigEndian.PutUint16(p[:], uint16(code))
	n := 2 + copy(p[2:], reason)
	return AppendFrame(dst, OpClose, p[:n], mask)
}

// ParseClose reads a close frame's payload: its status (StatusNoStatus when
// empty) and reason.
func ParseClose(p []byte) (StatusCode, string, error) {
	switch {
	case len(p) == 0:
		return StatusNoStatus, "", nil
	case len(p) == 1:
		return 0, "", fmt.Errorf("%w: one-byte close payload", ErrProtocol)
	}
	code := StatusCode(binary.BigEndian.Uint16(p))
	if !validCloseCode(code) {
		return 0, "", fmt.Errorf("%w: close status %d may not be sent", ErrProtocol, code)
	}
	if !utf8.Valid(p[2:]) {
		return 0, "", fmt.Errorf("%w: close reason is not UTF-8", ErrProtocol)
	}
	return code, string(p[2:]), nil
}

// validCloseCode reports whether a peer may send code (RFC 6455 7.4.1 and
// the IANA registry).
func validCloseCode(c StatusCode) bool {
	switch {
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1014:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}
