package erasure

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"testing"
)

// FuzzDecoder adds chunks of a known blob to a decoder in the order and with
// the indexes the input chooses, some of them corrupted, and checks that the
// decoder stays bounded, decodes exactly when it holds n distinct chunks, and
// rebuilds the blob when no corrupted chunk was added.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 1, 0, 2})
	f.Add([]byte{4, 0, 40, 0, 41, 0, 42, 0, 0, 0xff, 0xff, 0, 7})
	f.Add([]byte{3, 0x80, 3, 0, 3, 0, 9, 1, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		sizes := []int{1, 3, 5, 30, 36}
		n := sizes[int(in[0])%len(sizes)]
		blob := make([]byte, 0, n*ChunkSize)
		for seed := sha256.Sum256(in[:1]); len(blob) < n*ChunkSize; seed = sha256.Sum256(seed[:]) {
			blob = append(blob, seed[:]...)
		}
		e, _ := NewEncoder(blob[:n*ChunkSize])
		d, _ := NewDecoder(n * ChunkSize)
		distinct := map[uint16]bool{}
		corrupted := false
		for in = in[1:]; len(in) >= 2; in = in[2:] {
			v := binary.BigEndian.Uint16(in)
			c := e.At(v & 0x7fff)
			if v&0x8000 != 0 { // corrupt this chunk
				c.Data[v%ChunkSize] ^= 0x5a
				corrupted = corrupted || !distinct[c.Index]
			}
			if int(c.Index) < n || len(distinct) < n {
				distinct[c.Index] = true
			}
			d.Add(c)
			if len(d.chunks) > 2*n || len(d.chunks) != len(distinct) {
				t.Fatalf("decoder holds %d chunks, expected %d (at most %d)", len(d.chunks), len(distinct), 2*n)
			}
		}
		got, ok := d.Decode()
		if ok != (len(distinct) >= n) {
			t.Fatalf("Decode ok=%v with %d distinct chunks of %d", ok, len(distinct), n)
		}
		if ok && !corrupted && !bytes.Equal(got, blob[:n*ChunkSize]) {
			t.Fatal("decoded blob differs")
		}
		state, _ := d.MarshalBinary()
		var d2 Decoder
		if err := d2.UnmarshalBinary(state); err != nil {
			t.Fatalf("own state refused: %v", err)
		}
		if got2, ok2 := d2.Decode(); ok2 != ok || !bytes.Equal(got, got2) {
			t.Fatal("restored decoder decodes differently")
		}
	})
}

// FuzzDecoderState restores decoders from arbitrary bytes: malformed input
// must be refused without panicking, and accepted input must re-encode to
// itself and decode without panicking.
func FuzzDecoderState(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0})
	d, _ := NewDecoder(96)
	e, _ := NewEncoder(make([]byte, 96))
	for range 4 {
		d.Add(e.Next())
	}
	good, _ := d.MarshalBinary()
	f.Add(good)
	f.Fuzz(func(t *testing.T, in []byte) {
		var d Decoder
		if d.UnmarshalBinary(in) != nil {
			return
		}
		out, _ := d.MarshalBinary()
		if !bytes.Equal(in, out) {
			t.Fatal("state does not re-encode to itself")
		}
		d.Add(Chunk{Index: 7})
		d.Decode()
	})
}
