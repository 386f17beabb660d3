package erasure

import (
	"encoding/binary"
	"errors"
)

// ErrState reports a serialized encoder or decoder that is malformed.
var ErrState = errors.New("erasure: malformed serialized state")

// MarshalBinary encodes the encoder as BE32(chunks produced) ‖ blob.
func (e *Encoder) MarshalBinary() ([]byte, error) {
	return e.AppendBinary(make([]byte, 0, e.EncodedSize()))
}

// EncodedSize returns the length of the MarshalBinary encoding.
func (e *Encoder) EncodedSize() int { return 4 + len(e.blob) }

// AppendBinary appends the MarshalBinary encoding of e to b.
func (e *Encoder) AppendBinary(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint32(b, e.next)
	return append(b, e.blob...), nil
}

// UnmarshalBinary restores an encoder from MarshalBinary's output.
func (e *Encoder) UnmarshalBinary(b []byte) error {
	if len(b) < 4 {
		return ErrState
	}
	if _, err := chunksFor(len(b) - 4); err != nil {
		return ErrState
	}
	*e = Encoder{next: binary.BigEndian.Uint32(b), blob: append([]byte(nil), b[4:]...)}
	return nil
}

// MarshalBinary encodes the decoder as BE16(n) followed by its chunks, each
// BE16(index) ‖ data, in index order.
func (d *Decoder) MarshalBinary() ([]byte, error) {
	return d.AppendBinary(make([]byte, 0, d.EncodedSize()))
}

// EncodedSize returns the length of the MarshalBinary encoding.
func (d *Decoder) EncodedSize() int { return 2 + len(d.chunks)*(2+ChunkSize) }

// AppendBinary appends the MarshalBinary encoding of d to b.
func (d *Decoder) AppendBinary(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint16(b, uint16(d.n))
	for _, c := range d.chunks {
		b = binary.BigEndian.AppendUint16(b, c.Index)
		b = append(b, c.Data[:]...)
	}
	return b, nil
}

// UnmarshalBinary restores a decoder from MarshalBinary's output, checking
// that the chunks are distinct, sorted and no more than a decoder keeps.
func (d *Decoder) UnmarshalBinary(b []byte) error {
	const rec = 2 + ChunkSize
	if len(b) < 2 || (len(b)-2)%rec != 0 {
		return ErrState
	}
	n := int(binary.BigEndian.Uint16(b))
	if n < 1 || n > MaxChunks || (len(b)-2)/rec > 2*n {
		return ErrState
	}
	// Room for a few more chunks, so that the next Adds need not reallocate.
	chunks := make([]Chunk, (len(b)-2)/rec, min((len(b)-2)/rec+4, 2*n))
	for i := range chunks {
		r := b[2+i*rec:]
		chunks[i].Index = binary.BigEndian.Uint16(r)
		copy(chunks[i].Data[:], r[2:rec])
		if i > 0 && chunks[i].Index <= chunks[i-1].Index {
			return ErrState
		}
	}
	*d = Decoder{n: n, chunks: chunks}
	return nil
}
