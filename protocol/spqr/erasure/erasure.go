// Package erasure implements the systematic erasure code with which SPQR
// streams each of its blobs (the ML-KEM header, key vector and ciphertexts) in
// 32-byte chunks, one per message, so that any n distinct chunks of an n-chunk
// blob rebuild it, whichever messages were lost or reordered.
//
// A blob of n·32 bytes is read as big-endian 16-bit values v[0], v[1], …;
// value v[16·x + j] is the value at point x of polynomial P_j, j = 0…15, so
// each P_j, of degree below n, is fixed by the blob. Chunk number x carries
// P_0(x) … P_15(x): chunks 0…n-1 are the blob itself (the code is
// systematic) and later chunks are new evaluations. The arithmetic is in
// GF(2^16) (see gf16.go), exactly as in Signal's SparsePostQuantumRatchet,
// so chunks interoperate with libsignal in both directions.
package erasure

import (
	"encoding/binary"
	"errors"
	"slices"
	"sync"
)

const (
	// ChunkSize is the number of blob bytes each chunk carries.
	ChunkSize = 32
	// MaxChunks bounds the blob size this package accepts; SPQR's largest
	// blob, the ML-KEM-768 key vector, has 36 chunks.
	MaxChunks = 64

	lanes = ChunkSize / 2 // polynomials per blob
)

// A Chunk is one piece of an encoded blob: its index (the evaluation point)
// and the sixteen 16-bit values at that point.
type Chunk struct {
	Index uint16
	Data  [ChunkSize]byte
}

// ErrSize reports a blob size that is not a positive multiple of ChunkSize of
// at most MaxChunks chunks.
var ErrSize = errors.New("erasure: blob size must be a multiple of 32 bytes, 32 to 2048")

func chunksFor(size int) (int, error) {
	if size <= 0 || size%ChunkSize != 0 || size/ChunkSize > MaxChunks {
		return 0, ErrSize
	}
	return size / ChunkSize, nil
}

// lane returns the value of polynomial j in a chunk's data.
func lane(data *[ChunkSize]byte, j int) uint16 {
	return binary.BigEndian.Uint16(data[2*j:])
}

// interpolate returns the chunk at point x of the polynomials through the
// points (xs[i], ys[i]), i < len(xs), where x is none of the xs and logD[i]
// is the logarithm of ∏_{k≠i} (xs[i] + xs[k]). It evaluates the Lagrange form
// P(x) = Σ_i y_i · M(x) / ((x + x_i) · D_i), M(x) = ∏_k (x + x_k), in the
// logarithm domain (+ is − in characteristic 2).
func interpolate(t *gfTables, xs []uint16, ys []*[ChunkSize]byte, logD []int, x uint16) (out [ChunkSize]byte) {
	logM := 0
	for _, xk := range xs {
		logM += int(t.log[x^xk])
	}
	var acc [lanes]uint16
	for i, xi := range xs {
		// log w_i = log M − log(x + x_i) − log D_i, reduced into [0, groupOrder).
		lw := (logM - int(t.log[x^xi]) - logD[i]) % groupOrder
		if lw < 0 {
			lw += groupOrder
		}
		y := ys[i]
		for j := range lanes {
			if v := lane(y, j); v != 0 {
				acc[j] ^= t.exp[int(t.log[v])+lw]
			}
		}
	}
	for j, v := range acc {
		binary.BigEndian.PutUint16(out[2*j:], v)
	}
	return out
}

// logDenominators returns log ∏_{k≠i} (xs[i] + xs[k]) for each i.
func logDenominators(t *gfTables, xs []uint16) []int {
	logD := make([]int, len(xs))
	for i, xi := range xs {
		for k, xk := range xs {
			if k != i {
				logD[i] += int(t.log[xi^xk])
			}
		}
		logD[i] %= groupOrder
	}
	return logD
}

// An Encoder produces the chunks of one blob, in index order from 0; after
// index 65535 the indexes wrap around, as in libsignal.
type Encoder struct {
	blob []byte
	next uint32 // chunks produced so far
}

// NewEncoder returns an encoder for a copy of blob.
func NewEncoder(blob []byte) (*Encoder, error) {
	if _, err := chunksFor(len(blob)); err != nil {
		return nil, err
	}
	return &Encoder{blob: slices.Clone(blob)}, nil
}

// Blob returns the blob being encoded. It must not be modified.
func (e *Encoder) Blob() []byte { return e.blob }

// Size returns the size in bytes of the blob being encoded.
func (e *Encoder) Size() int { return len(e.blob) }

// Next returns the next chunk.
func (e *Encoder) Next() Chunk {
	c := e.At(uint16(e.next))
	e.next++
	return c
}

// At returns the chunk with the given index.
func (e *Encoder) At(index uint16) Chunk {
	c := Chunk{Index: index}
	n := len(e.blob) / ChunkSize
	if int(index) < n {
		copy(c.Data[:], e.blob[int(index)*ChunkSize:])
		return c
	}
	t := field()
	xs, logD := systematicPoints(t, n)
	var ysBuf [MaxChunks]*[ChunkSize]byte
	ys := ysBuf[:n]
	for i := range ys {
		ys[i] = (*[ChunkSize]byte)(e.blob[i*ChunkSize:])
	}
	c.Data = interpolate(t, xs, ys, logD, index)
	return c
}

// Clone returns an independent copy of e. (The copies share the blob, which
// an encoder never modifies.)
func (e *Encoder) Clone() *Encoder {
	return &Encoder{blob: e.blob, next: e.next}
}

var systematic [MaxChunks + 1]struct {
	once sync.Once
	xs   []uint16
	logD []int
}

// systematicPoints returns the points 0…n-1 and their Lagrange
// denominators, computed once per n.
func systematicPoints(t *gfTables, n int) ([]uint16, []int) {
	s := &systematic[n]
	s.once.Do(func() {
		s.xs = make([]uint16, n)
		for i := range s.xs {
			s.xs[i] = uint16(i)
		}
		s.logD = logDenominators(t, s.xs)
	})
	return s.xs, s.logD
}

// A Decoder collects the chunks of a blob of known size until any n distinct
// ones are in hand. It keeps every systematic chunk it sees and other chunks
// only while it holds fewer than n, so it stores at most 2n chunks.
type Decoder struct {
	n      int
	chunks []Chunk // distinct indexes, sorted
}

// NewDecoder returns a decoder for a blob of size bytes.
func NewDecoder(size int) (*Decoder, error) {
	n, err := chunksFor(size)
	if err != nil {
		return nil, err
	}
	return &Decoder{n: n}, nil
}

// Size returns the size in bytes of the blob being decoded.
func (d *Decoder) Size() int { return d.n * ChunkSize }

// Add records a chunk and reports whether it was stored. A chunk whose index
// was seen before is ignored (the first one wins), as are non-systematic
// chunks once n are held.
func (d *Decoder) Add(c Chunk) bool {
	i, found := d.find(c.Index)
	if found || (int(c.Index) >= d.n && len(d.chunks) >= d.n) {
		return false
	}
	d.chunks = slices.Insert(d.chunks, i, c)
	return true
}

// Remove forgets the chunk with the given index, undoing an Add that
// stored it.
func (d *Decoder) Remove(index uint16) {
	if i, found := d.find(index); found {
		d.chunks = slices.Delete(d.chunks, i, i+1)
	}
}

func (d *Decoder) find(index uint16) (int, bool) {
	return slices.BinarySearchFunc(d.chunks, index, func(a Chunk, x uint16) int { return int(a.Index) - int(x) })
}

// Decode returns the blob once n distinct chunks have been added, and false
// before. Missing systematic chunks are interpolated from the n chunks with
// the lowest indexes.
func (d *Decoder) Decode() ([]byte, bool) {
	if len(d.chunks) < d.n {
		return nil, false
	}
	blob := make([]byte, d.n*ChunkSize)
	var (
		t    *gfTables
		xs   []uint16
		ys   []*[ChunkSize]byte
		logD []int
	)
	held := 0
	for x := range d.n {
		out := blob[x*ChunkSize : (x+1)*ChunkSize]
		if held < len(d.chunks) && int(d.chunks[held].Index) == x {
			copy(out, d.chunks[held].Data[:])
			held++
			continue
		}
		if t == nil {
			t = field()
			xs, ys = make([]uint16, d.n), make([]*[ChunkSize]byte, d.n)
			for i := range d.n {
				xs[i], ys[i] = d.chunks[i].Index, &d.chunks[i].Data
			}
			logD = logDenominators(t, xs)
		}
		c := interpolate(t, xs, ys, logD, uint16(x))
		copy(out, c[:])
	}
	return blob, true
}

// Clone returns an independent copy of d.
func (d *Decoder) Clone() *Decoder {
	return &Decoder{n: d.n, chunks: slices.Clone(d.chunks)}
}
