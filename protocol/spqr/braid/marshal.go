package braid

import (
	"encoding/binary"

	"github.com/skymsg/sky/internal/mlkem768"
	"github.com/skymsg/sky/protocol/spqr/erasure"
)

// stateVersion is the first byte of a serialized State.
const stateVersion = 1

// What each phase keeps besides epoch, phase and authenticator.
type fields struct {
	seed, hdr, m, ct1, vector bool
	enc, dec                  int // sizes of the blobs being streamed and collected, or 0
}

var phaseFields = [...]fields{
	keysUnsampled:        {},
	keysSampled:          {seed: true, enc: headerBlobSize},
	headerSent:           {seed: true, enc: vectorBlobSize, dec: ct1BlobSize},
	ct1Received:          {seed: true, ct1: true, enc: vectorBlobSize},
	ekSentCt1Received:    {seed: true, ct1: true, dec: ct2BlobSize},
	noHeaderReceived:     {dec: headerBlobSize},
	headerReceived:       {hdr: true, dec: vectorBlobSize},
	ct1Sampled:           {hdr: true, m: true, ct1: true, enc: ct1BlobSize, dec: vectorBlobSize},
	ekReceivedCt1Sampled: {hdr: true, m: true, ct1: true, vector: true, enc: ct1BlobSize},
	ct1Acknowledged:      {hdr: true, m: true, ct1: true, dec: vectorBlobSize},
	ct2Sampled:           {enc: ct2BlobSize},
}

// MarshalBinary encodes the state (secret) as
//
//	0x01 ‖ uvarint(epoch) ‖ phase ‖ authenticator (64)
//	     ‖ the phase's fixed-size fields ‖ uvarint-length-prefixed encoder and decoder
func (s *State) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, 512))
}

// AppendBinary appends the MarshalBinary encoding of s to b.
func (s *State) AppendBinary(b []byte) ([]byte, error) {
	if s.phase == 0 || s.phase > lastPhase {
		return nil, ErrState
	}
	f := phaseFields[s.phase]
	b = append(b, stateVersion)
	b = binary.AppendUvarint(b, s.epoch)
	b = append(b, byte(s.phase))
	b, _ = s.auth.AppendBinary(b)
	b = appendIf(b, f.seed, s.seed[:])
	b = appendIf(b, f.hdr, s.hdr[:])
	b = appendIf(b, f.m, s.m[:])
	if f.ct1 {
		b = append(b, s.ct1[:]...)
	}
	if f.vector {
		b = append(b, s.vector[:]...)
	}
	if f.enc != 0 {
		eb, _ := s.enc.MarshalBinary()
		b = binary.AppendUvarint(b, uint64(len(eb)))
		b = append(b, eb...)
	}
	if f.dec != 0 {
		db, _ := s.dec.MarshalBinary()
		b = binary.AppendUvarint(b, uint64(len(db)))
		b = append(b, db...)
	}
	return b, nil
}

func appendIf(b []byte, ok bool, v []byte) []byte {
	if ok {
		return append(b, v...)
	}
	return b
}

// UnmarshalBinary restores a state from MarshalBinary's output. Malformed
// input gives ErrState and leaves s unchanged.
func (s *State) UnmarshalBinary(b []byte) error {
	r := reader{b: b}
	if r.byte() != stateVersion {
		return ErrState
	}
	var n State
	n.epoch = r.uvarint()
	n.phase = phase(r.byte())
	if r.bad || n.epoch == 0 || n.phase == 0 || n.phase > lastPhase {
		return ErrState
	}
	if n.auth.UnmarshalBinary(r.take(64)) != nil {
		return ErrState
	}
	f := phaseFields[n.phase]
	r.fill(f.seed, n.seed[:])
	r.fill(f.hdr, n.hdr[:])
	r.fill(f.m, n.m[:])
	if f.ct1 {
		n.ct1 = new([mlkem768.Ciphertext1Size]byte)
		r.fill(true, n.ct1[:])
	}
	if f.vector {
		n.vector = new([mlkem768.VectorSize]byte)
		r.fill(true, n.vector[:])
	}
	if f.enc != 0 {
		n.enc = new(erasure.Encoder)
		if n.enc.UnmarshalBinary(r.take(int(r.uvarint()))) != nil || n.enc.Size() != f.enc {
			return ErrState
		}
	}
	if f.dec != 0 {
		n.dec = new(erasure.Decoder)
		if n.dec.UnmarshalBinary(r.take(int(r.uvarint()))) != nil || n.dec.Size() != f.dec {
			return ErrState
		}
	}
	if r.bad || len(r.b) != 0 {
		return ErrState
	}
	*s = n
	return nil
}

// reader consumes a byte slice, remembering whether it ran short.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) take(n int) []byte {
	if r.bad || n < 0 || n > len(r.b) {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) fill(ok bool, dst []byte) {
	if ok {
		copy(dst, r.take(len(dst)))
	}
}
