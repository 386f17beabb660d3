package diskblob

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/skymsg/sky/server/blob"
	"github.com/skymsg/sky/server/blob/blobtest"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) func() blob.Store {
		dir := t.TempDir()
		return func() blob.Store {
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}

// TestSweepWipes: the bytes of an expired blob are overwritten before the
// file goes. The test keeps a hard link to the file, so it can read what the
// file's blocks held after the sweep.
func TestSweepWipes(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	data := make([]byte, 5000)
	rand.Read(data)
	id := blob.NewID()
	t0 := time.Unix(1e9, 0)
	s.Create(ctx, id, int64(len(data)), t0)
	s.Put(ctx, id, 0, data)
	if err := s.Finish(ctx, id); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "blobs", "*"))
	if len(files) != 1 {
		t.Fatalf("%d files for one blob", len(files))
	}
	link := filepath.Join(dir, "link")
	if err := os.Link(files[0], link); err != nil {
		t.Skipf("no hard links here: %v", err)
	}
	if n, err := s.Sweep(ctx, t0, t0); err != nil || n != 1 {
		t.Fatalf("sweep: %d, %v", n, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "blobs", "*")); len(left) != 0 {
		t.Fatalf("files left after the sweep: %v", left)
	}
	b, err := os.ReadFile(link)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != len(data) || !bytes.Equal(b, make([]byte, len(data))) {
		t.Fatal("the blob's blocks still hold its bytes after the sweep")
	}
}

// TestCrashAfterRestart: an upload left behind by a process that died is
// found from the directory alone and removed by the next sweep after a
// restart, and stray files are left alone.
func TestCrashAfterRestart(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir)
	ctx := t.Context()
	t0 := time.Unix(1e9, 0)
	id := blob.NewID()
	s.Create(ctx, id, 4112, t0)
	os.WriteFile(filepath.Join(dir, "README"), []byte("not a blob"), 0o600)
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s2.Sweep(ctx, t0, t0); err != nil || n != 1 {
		t.Fatalf("sweep after restart: %d, %v", n, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 1 {
		t.Fatalf("left: %v; want only the stray file", left)
	}
}
