package blobcrypt

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/skymsg/sky/wire"
)

func seal(t testing.TB, key Key, plain []byte) ([]byte, Sum) {
	t.Helper()
	var blob bytes.Buffer
	w, err := NewWriter(&blob, key)
	if err != nil {
		t.Fatal(err)
	}
	// Odd-sized writes cross chunk boundaries at every offset.
	for p := plain; len(p) > 0; {
		n := min(len(p), 7919)
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	s, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return blob.Bytes(), s
}

func TestRoundTrip(t *testing.T) {
	C := wire.BlobChunkPlain
	for _, n := range []int{0, 1, 4095, 4096, 4097, C - 1, C, C + 1, 3 * C, 1<<20 + 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			plain := make([]byte, n)
			rand.Read(plain)
			key := NewKey()
			blob, s := seal(t, key, plain)
			if s.Size != int64(n) || s.Padded != wire.BlobPadded(int64(n)) {
				t.Fatalf("sum %+v for %d bytes", s, n)
			}
			if int64(len(blob)) != s.Len() || wire.BlobPaddedOf(int64(len(blob))) != s.Padded {
				t.Fatalf("blob is %d bytes, want %d", len(blob), s.Len())
			}
			if s.Digest != sha256.Sum256(blob) {
				t.Fatal("digest is not the blob's SHA-256")
			}
			if n >= 16 && bytes.Contains(blob, plain[:16]) {
				t.Fatal("plaintext visible in the blob")
			}
			r, err := Open(bytes.NewReader(blob), key, s.Digest, s.Size, s.Padded)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatalf("decrypted %d bytes, not the %d written", len(got), n)
			}
		})
	}
}

// TestHostileBlob: whatever a server does to a blob, Open refuses it by
// digest before decrypting, and Reader alone (no digest) still refuses it by
// authentication, length or final flag.
func TestHostileBlob(t *testing.T) {
	C := wire.BlobChunkPlain + wire.BlobChunkTag
	key := NewKey()
	plain := bytes.Repeat([]byte("attack at dawn. "), (3*wire.BlobChunkPlain)/16)
	blob, s := seal(t, key, plain)
	other, _ := seal(t, NewKey(), plain)
	short, _ := seal(t, key, plain[:2*wire.BlobChunkPlain]) // same key: a prefix's chunks
	flip := func(i int) []byte { b := bytes.Clone(blob); b[i] ^= 1; return b }
	swap := func() []byte {
		b := bytes.Clone(blob)
		copy(b[:C], blob[C:2*C])
		copy(b[C:2*C], blob[:C])
		return b
	}
	for _, tc := range []struct {
		name     string
		blob     []byte
		open     error // what Open says
		read     error // what Reader says without the digest
		size, pd int64
	}{
		{"flipped first byte", flip(0), ErrDigest, ErrTampered, s.Size, s.Padded},
		{"flipped last byte", flip(len(blob) - 1), ErrDigest, ErrTampered, s.Size, s.Padded},
		{"truncated by a byte", blob[:len(blob)-1], ErrTruncated, ErrTruncated, s.Size, s.Padded},
		{"truncated at a chunk", blob[:2*C], ErrTruncated, ErrTruncated, s.Size, s.Padded},
		{"empty", nil, ErrTruncated, ErrTruncated, s.Size, s.Padded},
		{"extended", append(bytes.Clone(blob), 0), ErrTooLong, ErrTooLong, s.Size, s.Padded},
		{"chunks swapped", swap(), ErrDigest, ErrTampered, s.Size, s.Padded},
		{"substituted", other, ErrDigest, ErrTampered, s.Size, s.Padded},
		// A longer blob cut after a non-final chunk, presented as a
		// shorter file: only the final flag tells.
		{"cut to look shorter", blob[:2*C], ErrDigest, ErrTampered, 2 * int64(wire.BlobChunkPlain), 2 * int64(wire.BlobChunkPlain)},
		{"prefix blob as longer", short, ErrTruncated, ErrTampered, s.Size, s.Padded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(bytes.NewReader(tc.blob), key, s.Digest, tc.size, tc.pd)
			if !errors.Is(err, tc.open) {
				t.Errorf("Open: %v, want %v", err, tc.open)
			}
			r, err := NewReader(bytes.NewReader(tc.blob), key, tc.size, tc.pd)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadAll(r); !errors.Is(err, tc.read) {
				t.Errorf("Reader: %v, want %v", err, tc.read)
			}
		})
	}
	// The digest matches with the wrong key; the chunks refuse it.
	r, err := Open(bytes.NewReader(blob), NewKey(), s.Digest, s.Size, s.Padded)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); !errors.Is(err, ErrTampered) {
		t.Errorf("wrong key: %v, want ErrTampered", err)
	}
	if _, err := NewReader(bytes.NewReader(blob), key, 10, 8192); !errors.Is(err, ErrSizes) {
		t.Errorf("sizes of different classes: %v, want ErrSizes", err)
	}
}

// TestNonZeroPadding: a pointer claiming a smaller size in the same class
// would turn the file's tail into "padding"; the reader refuses it.
func TestNonZeroPadding(t *testing.T) {
	key := NewKey()
	plain := bytes.Repeat([]byte{7}, 5000)
	blob, s := seal(t, key, plain)
	// Claim 4700 bytes (the same class): the file's last 300 bytes become
	// "padding", and they are not zero.
	r, err := NewReader(bytes.NewReader(blob), key, 4700, s.Padded)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); !errors.Is(err, ErrTampered) {
		t.Fatalf("non-zero padding: %v, want ErrTampered", err)
	}
}

func TestKeyRedacted(t *testing.T) {
	k := NewKey()
	out := fmt.Sprintf("%v %+v %#v %s %x %q", k, k, k, k, k, k) + fmt.Sprint(k) + fmt.Sprintf("%v", &k)
	if strings.Contains(out, hex.EncodeToString(k[:4])) || strings.Contains(out, string(k[:4])) || !strings.Contains(out, "redacted") {
		t.Fatalf("key formatting leaks or does not say redacted: %q", out)
	}
}

// TestMemoryBounded encrypts and decrypts 32 MiB through io.Copy and checks
// the heap grows by little more than a chunk or two.
func TestMemoryBounded(t *testing.T) {
	const n = 32 << 20
	key := NewKey()
	f, err := os.CreateTemp(t.TempDir(), "blob")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w, _ := NewWriter(f, key)
	if _, err := io.Copy(w, io.LimitReader(zeros{}, n)); err != nil {
		t.Fatal(err)
	}
	s, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	f.Seek(0, io.SeekStart)
	r, err := Open(f, key, s.Digest, s.Size, s.Padded)
	if err != nil {
		t.Fatal(err)
	}
	m, err := io.Copy(io.Discard, r)
	if err != nil || m != n {
		t.Fatalf("decrypted %d bytes, %v", m, err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("allocated %d bytes for a %d-byte file; want it bounded by the chunk size", grew, n)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// vector is a known answer, computed independently with Python's
// cryptography (HKDF, AESGCM): the blob format is the protocol, so it must not
// change by accident.
type vector struct {
	Key, Plain, BlobSHA256 string
	Size, Padded           int64
}

func TestVectors(t *testing.T) {
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		var key Key
		kb, _ := hex.DecodeString(v.Key)
		copy(key[:], kb)
		plain, _ := hex.DecodeString(v.Plain)
		if len(plain) == 0 && v.Size > 0 {
			plain = bytes.Repeat([]byte{0xab}, int(v.Size))
		}
		_, s := seal(t, key, plain)
		if got := hex.EncodeToString(s.Digest[:]); got != v.BlobSHA256 || s.Padded != v.Padded {
			t.Errorf("vector of %d bytes: digest %s padded %d, want %s %d", v.Size, got, s.Padded, v.BlobSHA256, v.Padded)
		}
	}
}

func BenchmarkSeal(b *testing.B) {
	key := NewKey()
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		w, _ := NewWriter(io.Discard, key)
		w.Write(buf)
		w.Close()
	}
}

func BenchmarkOpen(b *testing.B) {
	key := NewKey()
	blob, s := seal(b, key, make([]byte, 1<<20))
	b.SetBytes(1 << 20)
	for b.Loop() {
		r, err := Open(bytes.NewReader(blob), key, s.Digest, s.Size, s.Padded)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, r)
	}
}
