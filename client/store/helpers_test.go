package store

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/skymsg/sky/client/store/keyfile"
)

// tinyKDF keeps tests fast; the benchmarks measure keyfile.Default.
var tinyKDF = keyfile.Params{Time: 1, MemoryKiB: 64, Threads: 1}

var (
	pass      = []byte("correct horse battery staple")
	panicPass = []byte("duress duress duress")
	t0        = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
)

// newStore creates a store in a fresh temporary directory.
func newTestStore(t testing.TB, opts Options) (string, *Store) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "home")
	if opts.KDF == (keyfile.Params{}) {
		opts.KDF = tinyKDF
	}
	s, err := Create(dir, pass, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return dir, s
}

func reopen(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir, pass)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func update(t testing.TB, s *Store, fn func(*Tx) error) {
	t.Helper()
	if err := s.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func canary(t testing.TB) string {
	b := make([]byte, 16)
	rand.Read(b)
	return "CANARY-" + hex.EncodeToString(b)
}

// scan returns, for each needle, the files under root that contain it
// (db, WAL, journals, key file, anything else there).
func scan(t testing.TB, root string, needles map[string][]byte) map[string][]string {
	t.Helper()
	found := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == root {
			return filepath.SkipAll
		}
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for name, n := range needles {
			if len(n) > 0 && bytes.Contains(b, n) {
				found[name] = append(found[name], filepath.Base(path))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// files lists the names of the files under root.
func files(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, filepath.Base(path))
		}
		return nil
	})
	return out
}
