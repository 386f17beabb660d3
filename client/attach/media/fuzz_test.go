package media

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDuration: any bytes give a duration within bounds or ErrUnknown or
// ErrMalformed; never a panic, another error, or a read out of bounds.
func FuzzDuration(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && filepath.Ext(p) != ".txt" && filepath.Ext(p) != ".sh" {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		Type(b)
		d, err := Duration(bytes.NewReader(b), int64(len(b)))
		switch {
		case err == nil && (d < 0 || d > maxDuration):
			t.Fatalf("duration %v", d)
		case err != nil && !errors.Is(err, ErrUnknown) && !errors.Is(err, ErrMalformed):
			t.Fatalf("error %v", err)
		}
	})
}
