package erasure

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// powSlow returns a^e with the shift-and-add multiplication.
func powSlow(a uint16, e int) uint16 {
	r := uint16(1)
	for ; e > 0; e >>= 1 {
		if e&1 != 0 {
			r = mulSlow(r, a)
		}
		a = mulSlow(a, a)
	}
	return r
}

// referenceChunk evaluates the sixteen polynomials of blob at x with the
// textbook Lagrange formula, using only mulSlow and Fermat inversion, as an
// independent check of the logarithm-domain code.
func referenceChunk(blob []byte, x uint16) (out [ChunkSize]byte) {
	n := len(blob) / ChunkSize
	for j := range lanes {
		var sum uint16
		for i := range n {
			num, den := uint16(1), uint16(1)
			for k := range n {
				if k != i {
					num = mulSlow(num, x^uint16(k))
					den = mulSlow(den, uint16(i)^uint16(k))
				}
			}
			y := uint16(blob[i*ChunkSize+2*j])<<8 | uint16(blob[i*ChunkSize+2*j+1])
			sum ^= mulSlow(y, mulSlow(num, powSlow(den, groupOrder-1)))
		}
		out[2*j], out[2*j+1] = byte(sum>>8), byte(sum)
	}
	return out
}

func randomBlob(r *rand.Rand, n int) []byte {
	b := make([]byte, n*ChunkSize)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestFieldTables checks the logarithm tables against shift-and-add
// multiplication, that x generates all 65535 non-zero elements, and inverses.
func TestFieldTables(t *testing.T) {
	f := field()
	seen := make(map[uint16]bool, groupOrder)
	for i := range groupOrder {
		seen[f.exp[i]] = true
	}
	if len(seen) != groupOrder || seen[0] {
		t.Fatalf("x generates %d elements, want all %d non-zero ones", len(seen), groupOrder)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		a, b := uint16(r.Uint32()), uint16(r.Uint32())
		if got, want := f.mul(a, b), mulSlow(a, b); got != want {
			t.Fatalf("%#x·%#x = %#x, want %#x", a, b, got, want)
		}
	}
	for a := 1; a <= groupOrder; a++ {
		if f.mul(uint16(a), f.inv(uint16(a))) != 1 {
			t.Fatalf("inverse of %#x is wrong", a)
		}
	}
	// x^16 = x^12 + x^3 + x + 1 in this field.
	if got := mulSlow(1<<15, 2); got != 0x100b {
		t.Fatalf("x^16 reduces to %#x, want 0x100b", got)
	}
}

// TestEncoder checks that the first n chunks are the blob and that later
// ones agree with the reference evaluation, including after index wrap-around.
func TestEncoder(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 3, 5, 30, 36, MaxChunks} {
		blob := randomBlob(r, n)
		e, err := NewEncoder(blob)
		if err != nil {
			t.Fatal(err)
		}
		blob[0] ^= 0xff // the encoder keeps its own copy
		blob[0] ^= 0xff
		for i := range n + 3 {
			c := e.Next()
			if c.Index != uint16(i) {
				t.Fatalf("n=%d: chunk %d has index %d", n, i, c.Index)
			}
			want := referenceChunk(blob, uint16(i))
			if i < n && !bytes.Equal(c.Data[:], blob[i*ChunkSize:(i+1)*ChunkSize]) {
				t.Fatalf("n=%d: systematic chunk %d is not the blob", n, i)
			}
			if c.Data != want {
				t.Fatalf("n=%d: chunk %d differs from the reference", n, i)
			}
		}
		for _, x := range []uint16{1000, 65535} {
			if e.At(x).Data != referenceChunk(blob, x) {
				t.Fatalf("n=%d: chunk %d differs from the reference", n, x)
			}
		}
	}
	e, _ := NewEncoder(make([]byte, 96))
	e.next = 1<<16 - 1
	if a, b := e.Next(), e.Next(); a.Index != 65535 || b.Index != 0 || b.Data != [ChunkSize]byte{} {
		t.Fatalf("indexes after 65535 are %d, %d; want 65535, 0", a.Index, b.Index)
	}
}

// TestDecodeFromAnyN decodes blobs from random sets of n distinct chunks,
// systematic or not, added in random order with duplicates.
func TestDecodeFromAnyN(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 3, 5, 30, 36} {
		for trial := range 30 {
			blob := randomBlob(r, n)
			e, _ := NewEncoder(blob)
			d, err := NewDecoder(len(blob))
			if err != nil {
				t.Fatal(err)
			}
			idx := r.Perm(3*n + 10)[:n]
			if trial == 0 { // parity only: the worst case
				for i := range idx {
					idx[i] = n + i
				}
			}
			for i, x := range idx {
				if _, ok := d.Decode(); ok {
					t.Fatalf("n=%d: decoded with only %d chunks", n, i)
				}
				d.Add(e.At(uint16(x)))
				d.Add(e.At(uint16(idx[r.IntN(i+1)]))) // a duplicate
			}
			got, ok := d.Decode()
			if !ok || !bytes.Equal(got, blob) {
				t.Fatalf("n=%d, chunks %v: decoding failed", n, idx)
			}
		}
	}
}

// TestDecoderBounded feeds a decoder every chunk index in a scrambled order
// and checks that it never stores more than 2n chunks and that the first
// chunk seen for an index wins.
func TestDecoderBounded(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	blob := randomBlob(r, 36)
	e, _ := NewEncoder(blob)
	d, _ := NewDecoder(len(blob))
	for _, x := range r.Perm(1 << 16) {
		c := e.At(uint16(x))
		d.Add(c)
		c.Data[0] ^= 1
		d.Add(c) // a conflicting copy is ignored
		if len(d.chunks) > 2*36 {
			t.Fatalf("decoder holds %d chunks", len(d.chunks))
		}
	}
	if got, ok := d.Decode(); !ok || !bytes.Equal(got, blob) {
		t.Fatal("decoding failed")
	}
}

// TestSizes checks that only positive multiples of 32 up to MaxChunks·32 are
// accepted.
func TestSizes(t *testing.T) {
	for _, size := range []int{0, -32, 31, 33, 96 + 2, (MaxChunks + 1) * ChunkSize} {
		if _, err := NewDecoder(size); err != ErrSize {
			t.Errorf("NewDecoder(%d): %v", size, err)
		}
		if size >= 0 {
			if _, err := NewEncoder(make([]byte, size)); err != ErrSize {
				t.Errorf("NewEncoder(%d bytes): %v", size, err)
			}
		}
	}
}

// TestMarshalRoundTrip serializes encoders and decoders midway and checks
// that the restored copies carry on identically; malformed states fail.
func TestMarshalRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	blob := randomBlob(r, 30)
	e, _ := NewEncoder(blob)
	d, _ := NewDecoder(len(blob))
	for i := range 50 {
		c := e.Next()
		if i%3 != 0 {
			d.Add(c)
		}
		eb, _ := e.MarshalBinary()
		db, _ := d.MarshalBinary()
		var e2 Encoder
		var d2 Decoder
		if err := e2.UnmarshalBinary(eb); err != nil {
			t.Fatal(err)
		}
		if err := d2.UnmarshalBinary(db); err != nil {
			t.Fatal(err)
		}
		e, d = &e2, &d2
	}
	if got, ok := d.Decode(); !ok || !bytes.Equal(got, blob) {
		t.Fatal("decoding after round trips failed")
	}
	if e.Next().Index != 50 {
		t.Fatal("encoder position lost")
	}
	db, _ := d.MarshalBinary()
	for _, bad := range [][]byte{nil, {0}, {0, 0}, {0, 65}, db[:len(db)-1]} {
		var d2 Decoder
		if d2.UnmarshalBinary(bad) == nil {
			t.Errorf("decoder state %x accepted", bad)
		}
	}
	swapped := append([]byte(nil), db...) // two chunks out of order
	copy(swapped[2:2+34], db[2+34:2+68])
	copy(swapped[2+34:2+68], db[2:2+34])
	var d2 Decoder
	if d2.UnmarshalBinary(swapped) == nil {
		t.Error("unsorted decoder state accepted")
	}
	var e2 Encoder
	for _, bad := range [][]byte{nil, {0, 0, 0, 1}, make([]byte, 4+31)} {
		if e2.UnmarshalBinary(bad) == nil {
			t.Errorf("encoder state of %d bytes accepted", len(bad))
		}
	}
}

func BenchmarkEncoderRedundantChunk(b *testing.B) {
	e, _ := NewEncoder(randomBlob(rand.New(rand.NewPCG(1, 1)), 36))
	for i := 0; b.Loop(); i++ {
		e.At(uint16(36 + i%1000))
	}
}

func BenchmarkDecodeFromRedundantChunks(b *testing.B) {
	e, _ := NewEncoder(randomBlob(rand.New(rand.NewPCG(1, 1)), 36))
	d, _ := NewDecoder(36 * ChunkSize)
	for i := range 36 {
		d.Add(e.At(uint16(100 + i)))
	}
	for b.Loop() {
		d.Decode()
	}
}
