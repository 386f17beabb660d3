package store

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/skymsg/sky/client/store/keyfile"
)

// The store's files, all directly in its directory.
const (
	keyName    = "sky.key"     // the key file (package keyfile)
	keyTmpName = "sky.key.new" // the key file while a new store is created
	dbName     = "sky.db"      // SQLite; it may have sky.db-wal, -shm, -journal beside it
	// attachDir holds the blobs of attachments (package client/attach):
	// ciphertext whose keys live in the messages; a wipe removes it too.
	attachDir = "attachments"
)

// isStoreFile reports whether name is one of the files the store may leave
// in its directory. Only these are ever removed.
func isStoreFile(name string) bool {
	return name == keyName || name == keyTmpName || name == dbName || strings.HasPrefix(name, dbName+"-") || name == attachDir
}

// storeEntries lists the store's files in dir, and whether dir holds anything
// else.
func storeEntries(dir string) (names []string, foreign bool, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, false, err
	}
	for _, e := range entries {
		if isStoreFile(e.Name()) {
			names = append(names, e.Name())
		} else {
			foreign = true
		}
	}
	return names, foreign, nil
}

func checkDir(dir string) error {
	if dir == "" || strings.ContainsAny(dir, "?#") {
		return invalid("the store directory must be a non-empty path without '?' or '#'")
	}
	return nil
}

// dirExists reports whether dir exists and is a directory.
func dirExists(dir string) (bool, error) {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !fi.IsDir() {
		return false, invalid("the store path exists and is not a directory")
	}
	return true, nil
}

// readKeyFile reads and decodes the key file. A missing file is ErrNoStore.
func readKeyFile(dir string) (*keyfile.File, error) {
	b, err := os.ReadFile(filepath.Join(dir, keyName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoStore
	}
	if err != nil {
		return nil, err
	}
	f, err := keyfile.Parse(b)
	if err != nil {
		return nil, corrupt("key file", err)
	}
	return f, nil
}

// writeKeyFile rewrites the key file in place: both halves in turn, each
// synced, so that a crash leaves at least one good copy and no older copy of
// a slot survives in a freed block of another file.
func writeKeyFile(dir string, f *keyfile.File) error {
	fd, err := os.OpenFile(filepath.Join(dir, keyName), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer fd.Close()
	f.Generation++
	half := f.MarshalHalf()
	for _, off := range []int64{0, keyfile.HalfSize} {
		if _, err := fd.WriteAt(half, off); err != nil {
			return err
		}
		if err := fd.Sync(); err != nil {
			return err
		}
	}
	return nil
}

// createKeyFile writes the key file of a new store under a temporary name
// and renames it into place, so the key file appears whole or not at all. Its
// appearance is what makes the store exist.
func createKeyFile(dir string, f *keyfile.File) error {
	tmp := filepath.Join(dir, keyTmpName)
	fd, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	half := f.MarshalHalf()
	_, err = fd.Write(append(append([]byte{}, half...), half...))
	if err == nil {
		err = fd.Sync()
	}
	if cerr := fd.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, keyName))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// syncDir makes the creation, renaming or removal of entries in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
