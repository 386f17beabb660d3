package spqr

import (
	"encoding/binary"

	"github.com/skymsg/sky/protocol/internal/errs"
)

// Version1 is the first byte of every SPQR message Sky sends. An empty
// pq_ratchet field or a first byte 0 means "no SPQR" (version 0), which
// libsignal 0.103 and Sky refuse.
const Version1 = 0x01

// MessageType is the payload type of an SPQR message.
type MessageType uint8

// The payload types of SPQR v1.
const (
	TypeNone     MessageType = 0
	TypeHdr      MessageType = 1
	TypeEk       MessageType = 2
	TypeEkCt1Ack MessageType = 3
	TypeCt1Ack   MessageType = 4 // carries no chunk
	TypeCt1      MessageType = 5
	TypeCt2      MessageType = 6
)

// ChunkSize is the size of the data chunk that most payload types carry.
const ChunkSize = 32

// Message is a decoded SPQR v1 message:
//
//	0x01 || varint(epoch >= 1) || varint(index) || type (1 byte) [|| varint(chunk index) || chunk (32)]
//
// Index is the sender's key index in epoch Epoch-1 (0 would mean "no key").
type Message struct {
	Epoch      uint64
	Index      uint32
	Type       MessageType
	ChunkIndex uint16
	Chunk      [ChunkSize]byte
}

// HasChunk reports whether messages of type t carry a chunk.
func (t MessageType) HasChunk() bool {
	return t != TypeNone && t != TypeCt1Ack
}

// ParseMessage decodes an SPQR v1 message as libsignal's SPQR does: the
// epoch must be nonzero, the index must fit 32 bits, the type must be known,
// a chunk index must fit 16 bits and be followed by 32 bytes. Trailing bytes
// after the message are allowed (room for later versions).
func ParseMessage(b []byte) (Message, error) {
	var m Message
	if len(b) == 0 || b[0] == 0 {
		return m, errs.New(errs.InvalidMessage, "spqr: message without post-quantum ratchet (version 0); SPQR v1 is required")
	}
	if b[0] != Version1 {
		return m, errs.Newf(errs.InvalidMessage, "spqr: unknown message version %d", b[0])
	}
	at := 1
	epoch, ok := readVarint(b, &at)
	if !ok || epoch == 0 {
		return m, errs.New(errs.InvalidMessage, "spqr: bad epoch")
	}
	index, ok := readVarint(b, &at)
	if !ok || index > 1<<32-1 {
		return m, errs.New(errs.InvalidMessage, "spqr: bad key index")
	}
	if at >= len(b) {
		return m, errs.New(errs.InvalidMessage, "spqr: message type missing")
	}
	m.Epoch, m.Index, m.Type = epoch, uint32(index), MessageType(b[at])
	at++
	if m.Type > TypeCt2 {
		return m, errs.Newf(errs.InvalidMessage, "spqr: unknown message type %d", m.Type)
	}
	if m.Type.HasChunk() {
		ci, ok := readVarint(b, &at)
		if !ok || ci > 0xFFFF || len(b)-at < ChunkSize {
			return m, errs.New(errs.InvalidMessage, "spqr: bad chunk")
		}
		m.ChunkIndex = uint16(ci)
		copy(m.Chunk[:], b[at:at+ChunkSize])
	}
	return m, nil
}

// Append appends the encoding of m to b.
func (m Message) Append(b []byte) []byte {
	b = append(b, Version1)
	b = binary.AppendUvarint(b, m.Epoch)
	b = binary.AppendUvarint(b, uint64(m.Index))
	b = append(b, byte(m.Type))
	if m.Type.HasChunk() {
		b = binary.AppendUvarint(b, uint64(m.ChunkIndex))
		b = append(b, m.Chunk[:]...)
	}
	return b
}

// readVarint reads a varint of at most 10 bytes at b[*at], as SPQR encodes
// them (least significant group first).
func readVarint(b []byte, at *int) (uint64, bool) {
	var v uint64
	for i := 0; i < 10; i++ {
		if *at+i >= len(b) {
			return 0, false
		}
		c := b[*at+i]
		v |= uint64(c&0x7F) << (7 * i)
		if c&0x80 == 0 {
			*at += i + 1
			return v, true
		}
	}
	return 0, false
}
