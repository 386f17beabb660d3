package erasure

import (
	"bufio"
	"bytes"
	"crypto/sha3"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// blobKey names one blob of a libsignal conversation: the sender's
// direction, the SPQR epoch and the blob kind.
type blobKey struct {
	dir   string
	epoch uint64
	kind  string
}

// Blob kinds by SPQR message type, with their sizes (ML-KEM-768 plus MACs).
var kinds = map[byte]struct {
	name string
	size int
}{
	1: {"hdr", 64 + 32}, 2: {"ek", 1152}, 3: {"ek", 1152}, 5: {"ct1", 960}, 6: {"ct2", 128 + 32},
}

// uvarint reads a protobuf-style varint, as SPQR messages use.
func uvarint(b []byte, at *int) uint64 {
	var v uint64
	for s := 0; ; s += 7 {
		c := b[*at]
		*at++
		v |= uint64(c&0x7f) << s
		if c&0x80 == 0 {
			return v
		}
	}
}

// libsignalChunks reads the chunks of every blob in a testdata conversation.
func libsignalChunks(t *testing.T, name string) map[blobKey][]Chunk {
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	blobs := map[blobKey][]Chunk{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		var line struct{ Dir, Pq string }
		if err := json.Unmarshal(s.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		m, err := hex.DecodeString(line.Pq)
		if err != nil || len(m) < 4 || m[0] != 1 {
			t.Fatalf("bad SPQR message %q", line.Pq)
		}
		at := 1
		epoch := uvarint(m, &at)
		uvarint(m, &at) // chain index
		typ := m[at]
		at++
		kind, ok := kinds[typ]
		if !ok {
			continue // None and Ct1Ack carry no chunk
		}
		var c Chunk
		c.Index = uint16(uvarint(m, &at))
		copy(c.Data[:], m[at:])
		if len(m) != at+ChunkSize {
			t.Fatalf("chunk message of %d bytes", len(m))
		}
		k := blobKey{line.Dir, epoch, kind.name}
		blobs[k] = append(blobs[k], c)
	}
	return blobs
}

// TestLibsignalChunks checks the code against chunks libsignal sent: our
// encoder, given the blob, reproduces every libsignal chunk bit for bit,
// including the redundant ones; our decoder rebuilds each blob from its
// non-systematic chunks and the fewest systematic ones, in reverse order;
// and every decoded key vector hashes, with ρ, to the H(ek) in the decoded
// header of the same epoch.
func TestLibsignalChunks(t *testing.T) {
	redundant, blobsChecked, ekChecked := 0, 0, 0
	for _, file := range []string{"libsignal-session-1.jsonl", "libsignal-session-2.jsonl"} {
		blobs := libsignalChunks(t, file)
		decoded := map[blobKey][]byte{}
		for k, chunks := range blobs {
			size := 0
			for _, kd := range kinds {
				if kd.name == k.kind {
					size = kd.size
				}
			}
			n := size / ChunkSize
			if len(chunks) < n {
				continue // the conversation ended before this blob was complete
			}
			// libsignal sends chunks 0, 1, 2, … in order.
			var blob []byte
			for i, c := range chunks {
				if int(c.Index) != i {
					t.Fatalf("%s %v: chunk %d has index %d", file, k, i, c.Index)
				}
				if i < n {
					blob = append(blob, c.Data[:]...)
				}
			}
			e, err := NewEncoder(blob)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range chunks {
				if e.Next() != c {
					t.Fatalf("%s %v: our chunk %d differs from libsignal's", file, k, c.Index)
				}
				if int(c.Index) >= n {
					redundant++
				}
			}
			// Decode from the last n chunks only, newest first: every
			// redundant chunk and as few systematic ones as possible, so
			// the first systematic chunks must be interpolated.
			d, _ := NewDecoder(size)
			for _, c := range slices.Backward(chunks[len(chunks)-n:]) {
				d.Add(c)
			}
			got, ok := d.Decode()
			if !ok || !bytes.Equal(got, blob) {
				t.Fatalf("%s %v: decoding libsignal's chunks failed", file, k)
			}
			decoded[k] = got
			blobsChecked++
		}
		for k, ek := range decoded {
			if k.kind != "ek" {
				continue
			}
			hdr, ok := decoded[blobKey{k.dir, k.epoch, "hdr"}]
			if !ok {
				t.Fatalf("%s %v: key vector without header", file, k)
			}
			h := sha3.Sum256(append(slices.Clone(ek), hdr[:32]...))
			if !bytes.Equal(h[:], hdr[32:64]) {
				t.Fatalf("%s %v: decoded key vector does not match its header", file, k)
			}
			ekChecked++
		}
	}
	if redundant < 50 || blobsChecked < 40 || ekChecked < 8 {
		t.Fatalf("only %d redundant chunks, %d blobs, %d key vectors checked", redundant, blobsChecked, ekChecked)
	}
	t.Log(fmt.Sprintf("checked %d blobs (%d key vectors against their headers) and %d redundant chunks", blobsChecked, ekChecked, redundant))
}
