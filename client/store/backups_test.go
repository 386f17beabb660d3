package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeBackups writes n files standing for backups and returns their paths,
// newest first.
func fakeBackups(t *testing.T, n int) []string {
	t.Helper()
	dir := t.TempDir()
	var out []string
	for i := range n {
		p := filepath.Join(dir, "sky-backup-"+strings.Repeat("x", i+1)+".skybackup")
		if err := os.WriteFile(p, append([]byte(backupMagic), bytes.Repeat([]byte("BACKUP-SALT-AND-CIPHERTEXT"), 1000)...), 0o600); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func checkGone(t *testing.T, paths []string, want bool) {
	t.Helper()
	for _, p := range paths {
		_, err := os.Stat(p)
		if gone := errors.Is(err, os.ErrNotExist); gone != want {
			t.Errorf("%s: gone = %t, want %t", filepath.Base(p), gone, want)
		}
	}
}

// The panic passphrase erases the backup files the client recorded, read
// from the key file's panic payload (the store itself does not open).
func TestPanicErasesBackups(t *testing.T) {
	for _, deleteAccount := range []bool{false, true} {
		f := newPanicFixture(t, deleteAccount)
		paths := fakeBackups(t, 3)
		s := reopen(t, f.dir)
		n, err := s.SetBackups(paths)
		if err != nil || n != 3 {
			t.Fatalf("SetBackups = %d, %v", n, err)
		}
		if got, err := s.Backups(); err != nil || !slices.Equal(got, paths) {
			t.Fatalf("Backups = %v, %v", got, err)
		}
		s.Close()
		checkGone(t, paths, false)
		// The list is sealed: no path shows in the key file.
		raw, _ := os.ReadFile(filepath.Join(f.dir, keyName))
		if bytes.Contains(raw, []byte("sky-backup-")) {
			t.Fatal("the key file shows a backup path")
		}
		_, err = Open(f.dir, panicPass)
		var we *WipedError
		if !errors.As(err, &we) {
			t.Fatalf("panic unlock = %v", err)
		}
		checkGone(t, paths, true)
	}
}

// Without the fix (no backups in the payload) the files stay: the test
// above is what shows it. Here: a panic passphrase set after the backups
// were recorded covers them too, Wipe erases them without one, and a
// cleared list erases nothing.
func TestWipeErasesBackups(t *testing.T) {
	_, s := newTestStore(t, Options{})
	paths := fakeBackups(t, 2)
	if _, err := s.SetBackups(paths); err != nil {
		t.Fatal(err)
	}
	if err := s.Wipe(); err != nil {
		t.Fatal(err)
	}
	checkGone(t, paths, true)

	dir, s := newTestStore(t, Options{})
	kept := fakeBackups(t, 1)
	if _, err := s.SetBackups(kept); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetBackups(nil); err != nil {
		t.Fatal(err)
	}
	paths = fakeBackups(t, 1)
	s.SetBackups(paths)
	if err := s.SetPanic(panicPass, false); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(dir, panicPass); !errors.Is(err, ErrNoStore) {
		t.Fatalf("panic unlock = %v", err)
	}
	checkGone(t, paths, true)
	checkGone(t, kept, false)
}

// A file the user put where a backup was is not erased.
func TestEraseBackupFileChecksMagic(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.skybackup")
	if err := os.WriteFile(p, []byte("the user's own file now"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := EraseBackupFile(p); !errors.Is(err, ErrInvalid) {
		t.Fatalf("EraseBackupFile = %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "the user's own file now" {
		t.Fatalf("the file became %q", b)
	}
	if err := EraseBackupFile(filepath.Join(t.TempDir(), "missing")); err != nil {
		t.Fatal(err)
	}
}

func TestSetBackupsRefuses(t *testing.T) {
	_, s := newTestStore(t, Options{})
	for _, bad := range [][]string{{"relative/path"}, {"/a\x00b"}, {""}} {
		if _, err := s.SetBackups(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetBackups(%q) = %v", bad, err)
		}
	}
	many := make([]string, 40)
	for i := range many {
		many[i] = "/backups/" + strings.Repeat("b", 40) + string(rune('a'+i%26))
	}
	n, err := s.SetBackups(many)
	if err != nil || n == 0 || n >= len(many) {
		t.Errorf("SetBackups(40 long paths) = %d, %v: want some but not all in the payload", n, err)
	}
}
