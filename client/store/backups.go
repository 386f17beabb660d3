package store

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/skymsg/sky/client/store/keyfile"
)

// The backup files the client wrote (package client/backup) are erased with
// the store: by the panic passphrase, which can read only the key file's
// panic payload, so the list is sealed there too (as many paths as fit
// beside the account record, newest first), and by Wipe. Erasing a backup
// overwrites its header, which holds the salt every key of the file is
// derived from, so what the file system keeps of it opens with nothing,
// not even the recovery key; then it is removed.
//
// The failed-unlock limit erases the store but not the backups: that wipe
// has no key to the payload. The recovery key the client kept goes with the
// store either way.

// SetBackups records the backup files the client wrote, newest first, and
// reports how many of them the panic passphrase will erase (the rest do not
// fit in the key file's payload; Wipe erases all). Paths must be absolute.
func (s *Store) SetBackups(paths []string) (int, error) {
	for _, p := range paths {
		if !filepath.IsAbs(p) || strings.IndexByte(p, 0) >= 0 {
			return 0, invalid("a backup path must be absolute and hold no NUL byte")
		}
	}
	err := s.Update(func(t *Tx) error {
		t.rewriteKey = true
		if len(paths) == 0 {
			_, err := t.del("kv", kvBackups)
			return err
		}
		return t.put("kv", kvBackups, nil, []byte(strings.Join(paths, "\x00")))
	})
	if err != nil {
		return 0, err
	}
	acct := 0
	set, del, err := s.PanicSettings()
	wipeAll, _ := s.PanicWipesDevices()
	if err == nil && set && (del || wipeAll) {
		s.View(func(t *Tx) error {
			v, err := t.get("kv", kvAccount)
			acct = len(v)
			clear(v)
			return err
		})
		if wipeAll {
			s.mu.Lock()
			if ps, _ := s.loadPanicState(); ps != nil {
				acct += 2 + len(ps.WipeList)
				ps.zero()
			}
			s.mu.Unlock()
		}
	}
	return keyfile.FitBackups(acct, paths), nil
}

// Backups returns the backup files recorded by SetBackups, newest first.
func (s *Store) Backups() ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.backupPathsLocked()
}

func (s *Store) backupPathsLocked() ([]string, error) {
	var out []string
	err := s.runLocked(true, func(t *Tx) error {
		v, err := t.get("kv", kvBackups)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		out = strings.Split(string(v), "\x00")
		return nil
	})
	return out, err
}

// eraseBackups erases each file, best effort: a file already gone, moved
// or unwritable is left as it is (the wipe of the store has happened).
func eraseBackups(paths []string) {
	for _, p := range paths {
		EraseBackupFile(p)
	}
}

// backupHeader is how much of a backup file erasing overwrites: more than
// its header (73 bytes in format 1).
const backupHeader = 4096

// backupMagic starts every backup file (package client/backup's format).
const backupMagic = "SKYBACK\n"

// EraseBackupFile overwrites the start of a backup file (its header, with
// the salt its keys come from), syncs it and removes it. A missing file is
// not an error. Only a regular file that starts as a backup does is
// touched: a file the user has since put at that path stays.
func EraseBackupFile(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return invalid("a backup path is not a regular file")
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	head := make([]byte, len(backupMagic))
	if _, err := io.ReadFull(f, head); err != nil || string(head) != backupMagic {
		f.Close()
		return invalid("the file is not a Sky backup; it was left as it is")
	}
	_, werr := f.WriteAt(make([]byte, min(fi.Size(), backupHeader)), 0)
	serr := f.Sync()
	f.Close()
	if err := errors.Join(werr, serr); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}
