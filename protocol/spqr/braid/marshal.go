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

// In ct1Sampled and ekReceivedCt1Sampled the encoder streams ct1 itself, so
// ct1 is not written twice (fields.ct1 is false there and ct1 is taken from
// the encoder when decoding).
var phaseFields = [...]fields{
	keysUnsampled:        {},
	keysSampled:          {seed: true, enc: headerBlobSize},
	headerSent:           {seed: true, enc: vectorBlobSize, dec: ct1BlobSize},
	ct1Received:          {seed: true, ct1: true, enc: vectorBlobSize},
	ekSentCt1Received:    {seed: true, ct1: true, dec: ct2BlobSize},
	noHeaderReceived:     {dec: headerBlobSize},
	headerReceived:       {hdr: true, dec: vectorBlobSize},
	ct1Sampled:           {hdr: true, m: true, enc: ct1BlobSize, dec: vectorBlobSize},
	ekReceivedCt1Sampled: {hdr: true, m: true, vector: true, enc: ct1BlobSize},
	ct1Acknowledged:      {hdr: true, m: true, ct1: true, dec: vectorBlobSize},
	ct2Sampled:           {enc: ct2BlobSize},
}

// MarshalBinary encodes the state (secret) as
//
//	0x01 ‖ uvarint(epoch) ‖ phase ‖ authenticator (64)
//	     ‖ the phase's fixed-size fields ‖ uvarint-length-prefixed encoder and decoder
func (s *State) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, s.encodedSize()))
}

// encodedSize bounds the length of the encoding.
func (s *State) encodedSize() int {
	if s.phase == 0 || s.phase > lastPhase {
		return 0
	}
	f := phaseFields[s.phase]
	n := 1 + binary.MaxVarintLen64 + 1 + 64 + 2*binary.MaxVarintLen64
	for _, x := range []struct {
		ok   bool
		size int
	}{{f.seed, len(s.seed)}, {f.hdr, len(s.hdr)}, {f.m, len(s.m)}, {f.ct1, mlkem768.Ciphertext1Size}, {f.vector, mlkem768.VectorSize}} {
		if x.ok {
			n += x.size
		}
	}
	if f.enc != 0 {
		n += s.enc.EncodedSize()
	}
	if f.dec != 0 {
		n += s.dec.EncodedSize()
	}
	return n
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
		b = binary.AppendUvarint(b, uint64(s.enc.EncodedSize()))
		b, _ = s.enc.AppendBinary(b)
	}
	if f.dec != 0 {
		b = binary.AppendUvarint(b, uint64(s.dec.EncodedSize()))
		b, _ = s.dec.AppendBinary(b)
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
	if n.phase == ct1Sampled || n.phase == ekReceivedCt1Sampled {
		n.ct1 = (*[mlkem768.Ciphertext1Size]byte)(n.enc.Blob())
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
