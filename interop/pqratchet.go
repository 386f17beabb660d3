package interop

import (
	"errors"
	"fmt"
)

// SPQR message types, the byte after epoch and index in a pq_ratchet field.
const (
	SPQRNone     = 0
	SPQRHdr      = 1
	SPQREk       = 2
	SPQREkCt1Ack = 3
	SPQRCt1Ack   = 4
	SPQRCt1      = 5
	SPQRCt2      = 6
)

// SPQRChunkSize is the size of one erasure-coded chunk of an SPQR payload.
const SPQRChunkSize = 32

// PQRatchet is the parsed pq_ratchet field of a SignalMessage: the message of
// the Sparse Post-Quantum Ratchet (SPQR) that travels beside the Double
// Ratchet. Its layout is
//
//	version(1) ‖ varint epoch ‖ varint index ‖ type(1) [‖ varint chunk index ‖ chunk(32)]
//
// An empty field, or version 0, means the sender speaks no SPQR (V0), which
// libsignal 0.103 refuses.
type PQRatchet struct {
	Version    byte   // 1 for SPQR V1; 0 for "no SPQR"
	Epoch      uint64 // starts at 1 and rises as post-quantum ratchet steps complete
	Index      uint64 // the sender's chain counter in this epoch (32 bits)
	Type       byte   // SPQRNone … SPQRCt2
	HasChunk   bool
	ChunkIndex uint64 // 16 bits
	Chunk      []byte // SPQRChunkSize bytes when HasChunk
	Trailing   int    // bytes after the message, which receivers tolerate
}

// ParsePQRatchet parses a pq_ratchet field.
func ParsePQRatchet(b []byte) (PQRatchet, error) {
	var p PQRatchet
	if len(b) == 0 || b[0] == 0 {
		return p, nil // V0: no SPQR
	}
	p.Version = b[0]
	b = b[1:]
	var err error
	if p.Epoch, b, err = spqrVarint(b, "epoch"); err != nil {
		return p, err
	}
	if p.Epoch == 0 {
		return p, errors.New("pq_ratchet: epoch 0 is invalid (epochs start at 1)")
	}
	if p.Index, b, err = spqrVarint(b, "index"); err != nil {
		return p, err
	}
	if p.Index > 0xffffffff {
		return p, fmt.Errorf("pq_ratchet: index %d does not fit 32 bits", p.Index)
	}
	if len(b) == 0 {
		return p, errors.New("pq_ratchet: message type missing")
	}
	p.Type, b = b[0], b[1:]
	switch p.Type {
	case SPQRNone, SPQRCt1Ack:
	case SPQRHdr, SPQREk, SPQREkCt1Ack, SPQRCt1, SPQRCt2:
		p.HasChunk = true
		if p.ChunkIndex, b, err = spqrVarint(b, "chunk index"); err != nil {
			return p, err
		}
		if p.ChunkIndex > 0xffff {
			return p, fmt.Errorf("pq_ratchet: chunk index %d does not fit 16 bits", p.ChunkIndex)
		}
		if len(b) < SPQRChunkSize {
			return p, fmt.Errorf("pq_ratchet: chunk has %d bytes, want %d", len(b), SPQRChunkSize)
		}
		p.Chunk, b = b[:SPQRChunkSize], b[SPQRChunkSize:]
	default:
		return p, fmt.Errorf("pq_ratchet: unknown message type %d", p.Type)
	}
	p.Trailing = len(b)
	return p, nil
}

func spqrVarint(b []byte, name string) (uint64, []byte, error) {
	v, n, err := readVarint(b)
	if err != nil {
		return 0, nil, fmt.Errorf("pq_ratchet: %s: %w", name, err)
	}
	return v, b[n:], nil
}

// MessageEpoch returns the SPQR epoch of a serialized message of the given
// envelope type (2 Whisper or 3 PreKey), for tests that follow epochs.
func MessageEpoch(typ int, msg []byte) (uint64, error) {
	var sm SignalMessage
	switch typ {
	case 2:
		m, err := ParseSignalMessage(msg)
		if err != nil {
			return 0, err
		}
		sm = m
	case 3:
		m, err := ParsePreKeySignalMessage(msg)
		if err != nil {
			return 0, err
		}
		sm = m.Signal
	default:
		return 0, fmt.Errorf("message type %d carries no pq_ratchet field", typ)
	}
	p, err := ParsePQRatchet(sm.PQRatchet)
	if err != nil {
		return 0, err
	}
	if p.Version == 0 {
		return 0, errors.New("message carries no SPQR (pq_ratchet empty or version 0)")
	}
	return p.Epoch, nil
}
