// Package ws is the WebSocket protocol (RFC 6455) as skyd needs it: the
// HTTP upgrade, frame headers, masking and close frames, as functions over
// byte slices the caller owns.
//
// It exists so that a connection can hold no buffer and no goroutine while
// it is idle: skyd reads a socket only when the kernel says it is readable,
// parses whatever complete frames the read returned, and gives the buffer
// back. General-purpose libraries keep a reader goroutine and buffered
// readers and writers per connection, tens of kilobytes each, which is too
// much for 100,000 idle connections on one node.
//
// Only what Sky's protocol uses is supported: binary and text messages
// (fragmented or not), ping, pong and close; no extensions (compression is
// never negotiated) and no subprotocols. The client side (Dial) exists for
// load generators and tests.
package ws

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Opcode is a frame's type.
type Opcode byte

// Opcodes (RFC 6455 section 5.2).
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports whether op is a control opcode (close, ping, pong).
func (op Opcode) IsControl() bool { return op&0x8 != 0 }

// MaxHeaderBytes is the longest frame header: 2 bytes, an 8-byte extended
// length and a 4-byte masking key.
const MaxHeaderBytes = 14

// maxControlPayload is the largest payload of a control frame.
const maxControlPayload = 125

// Header is a parsed frame header.
type Header struct {
	Fin    bool
	Op     Opcode
	Masked bool
	Mask   [4]byte
	Length int64 // payload bytes
}

// ErrProtocol is returned (wrapped) for frames that break RFC 6455; the
// connection must be closed with StatusProtocolError.
var ErrProtocol = errors.New("websocket protocol error")

// ErrTooBig is returned (wrapped) when a frame or message is over the
// reader's limit; the connection must be closed with StatusMessageTooBig.
var ErrTooBig = errors.New("websocket message too big")

// ParseHeader parses the frame header at the start of b. n is the header's
// length; n == 0 with a nil error means b does not yet hold the whole
// header. Frames longer than limit are refused here, from the header,
// before any of their payload is read.
func ParseHeader(b []byte, limit int64) (h Header, n int, err error) {
	if len(b) < 2 {
		return h, 0, nil
	}
	if b[0]&0x70 != 0 {
		return h, 0, fmt.Errorf("%w: reserved bits set without an extension", ErrProtocol)
	}
	h.Fin = b[0]&0x80 != 0
	h.Op = Opcode(b[0] & 0x0f)
	switch h.Op {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
	default:
		return h, 0, fmt.Errorf("%w: unknown opcode %#x", ErrProtocol, byte(h.Op))
	}
	h.Masked = b[1]&0x80 != 0
	n = 2
	switch l := b[1] & 0x7f; l {
	case 126:
		if len(b) < n+2 {
			return h, 0, nil
		}
		h.Length = int64(binary.BigEndian.Uint16(b[n:]))
		n += 2
	case 127:
		if len(b) < n+8 {
			return h, 0, nil
		}
		v := binary.BigEndian.Uint64(b[n:])
		if v>>63 != 0 {
			return h, 0, fmt.Errorf("%w: payload length with the top bit set", ErrProtocol)
		}
		h.Length = int64(v)
		n += 8
	default:
		h.Length = int64(l)
	}
	if h.Op.IsControl() && (!h.Fin || h.Length > maxControlPayload) {
		return h, 0, fmt.Errorf("%w: fragmented or oversized control frame", ErrProtocol)
	}
	if h.Length > limit {
		return h, 0, fmt.Errorf("%w: a %d-byte frame is over the limit of %d", ErrTooBig, h.Length, limit)
	}
	if h.Masked {
		if len(b) < n+4 {
			return h, 0, nil
		}
		copy(h.Mask[:], b[n:n+4])
		n += 4
	}
	return h, n, nil
}

// AppendHeader appends a frame header. A non-nil mask (clients must mask,
// servers must not) is written as the masking key; the caller masks the
// payload with MaskBytes.
func AppendHeader(dst []byte, fin bool, op Opcode, length int, mask *[4]byte) []byte {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	var m byte
	if mask != nil {
		m = 0x80
	}
	switch {
	case length <= 125:
		dst = append(dst, b0, m|byte(length))
	case length <= 0xffff:
		dst = append(dst, b0, m|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(length))
	default:
		dst = append(dst, b0, m|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(length))
	}
	if mask != nil {
		dst = append(dst, mask[:]...)
	}
	return dst
}

// HeaderLen is the length of an unmasked frame header for a payload of
// length bytes.
func HeaderLen(length int) int {
	switch {
	case length <= 125:
		return 2
	case length <= 0xffff:
		return 4
	default:
		return 10
	}
}

// AppendFrame appends one complete, final frame; with a non-nil mask the
// payload is masked as it is copied.
func AppendFrame(dst []byte, op Opcode, payload []byte, mask *[4]byte) []byte {
	dst = AppendHeader(dst, true, op, len(payload), mask)
	start := len(dst)
	dst = append(dst, payload...)
	if mask != nil {
		MaskBytes(*mask, 0, dst[start:])
	}
	return dst
}

// MaskBytes XORs b in place with the masking key, starting at offset pos of
// the payload, and returns the offset after b (masking is its own inverse).
func MaskBytes(key [4]byte, pos int, b []byte) int {
	// Rotate the key so that word-at-a-time masking starts at b[0].
	var k [8]byte
	for i := range 8 {
		k[i] = key[(pos+i)&3]
	}
	kw := binary.LittleEndian.Uint64(k[:])
	// 32 bytes a step through a fixed-size window: no bounds checks in
	// the loop, and four independent words (upload chunks are unmasked
	// here, 256 KiB each).
	rest := b
	for len(rest) >= 32 {
		w := (*[32]byte)(rest)
		binary.LittleEndian.PutUint64(w[0:], binary.LittleEndian.Uint64(w[0:])^kw)
		binary.LittleEndian.PutUint64(w[8:], binary.LittleEndian.Uint64(w[8:])^kw)
		binary.LittleEndian.PutUint64(w[16:], binary.LittleEndian.Uint64(w[16:])^kw)
		binary.LittleEndian.PutUint64(w[24:], binary.LittleEndian.Uint64(w[24:])^kw)
		rest = rest[32:]
	}
	for len(rest) >= 8 {
		binary.LittleEndian.PutUint64(rest, binary.LittleEndian.Uint64(rest)^kw)
		rest = rest[8:]
	}
	for i := len(b) - len(rest); i < len(b); i++ {
		b[i] ^= key[(pos+i)&3]
	}
	return pos + len(b)
}
