package store

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/skymsg/sky/client/store/keyfile"
)

// wipeStage names the points a wipe passes; tests stop a wipe at each to
// show that the next start completes it.
type wipeStage int

const (
	wipeMarked       wipeStage = iota + 1 // the marker is durable
	wipeKeysErased                        // both slots and the payload are overwritten
	wipeFilesRemoved                      // every file but the key file is gone
)

// testHookWipe, when set by a test, runs at each stage of a wipe.
var testHookWipe func(wipeStage)

func hookWipe(s wipeStage) {
	if testHookWipe != nil {
		testHookWipe(s)
	}
}

// wipe crypto-erases the store in dir. The caller holds the directory lock
// and has closed the database. The steps are ordered so that a crash at any
// point leaves a state the next start recognises and finishes (recoverDir):
//
//  1. the first 16 bytes of the key file become the wipe marker, synced;
//  2. the whole key file is overwritten in place (both copies of both slots
//     and the panic payload), synced: from here nothing decrypts;
//  3. every other file of the store is removed, and the directory synced;
//  4. the key file is removed, then (unless keepDir) the directory itself if
//     it is empty.
func wipe(dir string, keepDir bool) error {
	if err := eraseKeyFile(filepath.Join(dir, keyName)); err != nil {
		return err
	}
	names, _, err := storeEntries(dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		if n == keyName {
			continue
		}
		remove := os.Remove
		if n == attachDir {
			remove = os.RemoveAll
		}
		if err := remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	hookWipe(wipeFilesRemoved)
	if err := os.Remove(filepath.Join(dir, keyName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	// A directory that held only the store goes too, so the result looks like
	// a machine where Sky never ran. One that holds other files stays.
	if !keepDir && os.Remove(dir) == nil {
		syncDir(filepath.Dir(dir))
	}
	return nil
}

// eraseKeyFile performs steps 1 and 2 of wipe. A missing key file is fine:
// an earlier run already got past step 4's first half.
func eraseKeyFile(path string) error {
	fd, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer fd.Close()
	marker := keyfile.WipeMarker()
	if _, err := fd.WriteAt(marker, 0); err != nil {
		return err
	}
	if err := fd.Sync(); err != nil {
		return err
	}
	hookWipe(wipeMarked)
	size, err := fd.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	buf := make([]byte, max(size, keyfile.Size))
	copy(buf, marker)
	if _, err := fd.WriteAt(buf, 0); err != nil {
		return err
	}
	if err := fd.Sync(); err != nil {
		return err
	}
	hookWipe(wipeKeysErased)
	return nil
}

// recoverDir runs before anything else on every start (Open, Create,
// Exists). It finishes a wipe that a crash interrupted: a key file that
// carries the wipe marker, or store files without a key file (left by an
// interrupted wipe after step 4 began, or by a create that never wrote its
// key file). It reports whether it removed anything. The caller holds the
// directory lock; keepDir keeps the emptied directory (for Create).
func recoverDir(dir string, keepDir bool) (bool, error) {
	head := make([]byte, 16)
	fd, err := os.Open(filepath.Join(dir, keyName))
	switch {
	case err == nil:
		n, _ := io.ReadFull(fd, head)
		fd.Close()
		if !keyfile.IsWipeMarked(head[:n]) {
			return false, nil
		}
		return true, wipe(dir, keepDir)
	case errors.Is(err, fs.ErrNotExist):
		names, _, err := storeEntries(dir)
		if err != nil || len(names) == 0 {
			return false, err
		}
		return true, wipe(dir, keepDir)
	default:
		return false, err
	}
}

// Discard crypto-erases whatever store files dir holds, without unlocking
// them (as a wipe does), and removes dir if nothing else is in it. A missing
// dir is fine. It is for stores that were never finished, such as a restore
// interrupted halfway; it takes the directory lock, so it refuses a store in
// use (ErrLocked).
func Discard(dir string) error {
	if err := checkDir(dir); err != nil {
		return err
	}
	if ok, err := dirExists(dir); err != nil || !ok {
		return err
	}
	lock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	return wipe(dir, false)
}
