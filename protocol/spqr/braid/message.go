package braid

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/skymsg/sky/protocol/spqr/erasure"
)

// MsgType says what an SPQR v1 message carries.
type MsgType uint8

// Message types, numbered as on the wire.
const (
	MsgNone     MsgType = 0 // nothing
	MsgHdr      MsgType = 1 // a chunk of the header ‖ MAC
	MsgEk       MsgType = 2 // a chunk of t̂
	MsgEkCt1Ack MsgType = 3 // a chunk of t̂, and ct1 is complete
	MsgCt1Ack   MsgType = 4 // ct1 is complete (no chunk)
	MsgCt1      MsgType = 5 // a chunk of ct1
	MsgCt2      MsgType = 6 // a chunk of ct2 ‖ MAC
)

func (t MsgType) hasChunk() bool { return t != MsgNone && t != MsgCt1Ack }

func (t MsgType) String() string {
	names := [...]string{"None", "Hdr", "Ek", "EkCt1Ack", "Ct1Ack", "Ct1", "Ct2"}
	if int(t) < len(names) {
		return names[t]
	}
	return fmt.Sprintf("MsgType(%d)", uint8(t))
}

// A Message is what the braid sends with each Double Ratchet message: the
// epoch the sender is working on and at most one chunk.
type Message struct {
	Epoch uint64
	Type  MsgType
	Chunk erasure.Chunk // valid when Type carries a chunk
}

// Version1 is the version byte of SPQR v1 messages.
const Version1 = 0x01

var (
	// ErrVersion0 reports an empty message or one whose version byte is 0:
	// the sender runs without SPQR, which libsignal 0.103 refuses.
	ErrVersion0 = errors.New("braid: the peer sent no post-quantum ratchet message (SPQR version 0)")
	// ErrMessage reports an SPQR message that is malformed.
	ErrMessage = errors.New("braid: malformed SPQR message")
)

// AppendMessage appends the wire form of m with the sender's chain index:
//
//	0x01 ‖ varint(epoch) ‖ varint(index) ‖ type [‖ varint(chunk index) ‖ chunk]
//
// where varints are unsigned LEB128, as in protobuf.
func AppendMessage(b []byte, m Message, index uint32) []byte {
	b = append(b, Version1)
	b = binary.AppendUvarint(b, m.Epoch)
	b = binary.AppendUvarint(b, uint64(index))
	b = append(b, byte(m.Type))
	if m.Type.hasChunk() {
		b = binary.AppendUvarint(b, uint64(m.Chunk.Index))
		b = append(b, m.Chunk.Data[:]...)
	}
	return b
}

// ParseMessage parses an SPQR message and returns it with the sender's chain
// index. Like libsignal 0.103 it reads every non-zero version byte as v1 and
// ignores trailing bytes; it returns ErrVersion0 for a version-0 message and
// ErrMessage for anything malformed.
func ParseMessage(b []byte) (m Message, index uint32, err error) {
	if len(b) == 0 || b[0] == 0 {
		return m, 0, ErrVersion0
	}
	at := 1
	if m.Epoch, err = uvarint(b, &at); err != nil {
		return Message{}, 0, err
	}
	if m.Epoch == 0 {
		return Message{}, 0, fmt.Errorf("%w: epoch 0", ErrMessage)
	}
	idx, err := uvarint(b, &at)
	if err != nil {
		return Message{}, 0, err
	}
	if idx > 1<<32-1 {
		return Message{}, 0, fmt.Errorf("%w: chain index out of range", ErrMessage)
	}
	if at >= len(b) {
		return Message{}, 0, fmt.Errorf("%w: no message type", ErrMessage)
	}
	m.Type = MsgType(b[at])
	at++
	if m.Type > MsgCt2 {
		return Message{}, 0, fmt.Errorf("%w: unknown message type %d", ErrMessage, m.Type)
	}
	if m.Type.hasChunk() {
		ci, err := uvarint(b, &at)
		if err != nil {
			return Message{}, 0, err
		}
		if ci > 0xffff || len(b)-at < erasure.ChunkSize {
			return Message{}, 0, fmt.Errorf("%w: bad chunk", ErrMessage)
		}
		m.Chunk.Index = uint16(ci)
		copy(m.Chunk.Data[:], b[at:])
	}
	return m, uint32(idx), nil
}

// uvarint reads an unsigned LEB128 value of at most 10 bytes as libsignal
// does: bits beyond 64 are dropped, and a value need not be minimally encoded.
func uvarint(b []byte, at *int) (uint64, error) {
	var v uint64
	for i := 0; i < 10 && *at+i < len(b); i++ {
		c := b[*at+i]
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			*at += i + 1
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: truncated varint", ErrMessage)
}
