package blobcrypt

import (
	"bytes"
	"io"
	"testing"

	"github.com/skymsg/sky/wire"
)

// FuzzReader feeds arbitrary blobs and claimed sizes to the chunk reader:
// it must never panic, never return more than the claimed size, and
// accept only what the key sealed.
func FuzzReader(f *testing.F) {
	var key Key
	for _, n := range []int{0, 1, 5000} {
		var b bytes.Buffer
		w, _ := NewWriter(&b, key)
		w.Write(bytes.Repeat([]byte{1}, n))
		s, _ := w.Close()
		f.Add(b.Bytes(), s.Size)
		f.Add(b.Bytes()[:b.Len()/2], s.Size)
	}
	f.Fuzz(func(t *testing.T, blob []byte, size int64) {
		padded := wire.BlobPadded(size)
		if padded == 0 || padded > 1<<20 {
			return
		}
		r, err := NewReader(bytes.NewReader(blob), key, size, padded)
		if err != nil {
			return
		}
		out, err := io.ReadAll(io.LimitReader(r, size+1))
		if int64(len(out)) > size {
			t.Fatalf("read %d bytes of a %d-byte file", len(out), size)
		}
		if err == nil && int64(len(out)) != size {
			t.Fatalf("no error but %d of %d bytes", len(out), size)
		}
	})
}
