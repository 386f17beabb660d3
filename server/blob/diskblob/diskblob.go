// Package diskblob keeps blobs as files in one directory: the embedded
// default beside the SQLite store.
//
// A blob is one file named "ID.CREATED.SIZE", with ".part" appended while
// its upload is unfinished (CREATED is the coarse creation time in unix
// seconds, SIZE the declared length). Finish fsyncs the file and renames it,
// so a finished blob is whole after a crash. The directory is the only
// record: an index in memory is rebuilt from it on Open, so a crash between
// any two steps leaves nothing the next sweep misses (skyd sweeps when it
// starts).
//
// Sweep overwrites a blob's bytes with zeros, fsyncs, and only then unlinks
// the file, so the file's blocks hold no ciphertext when the file system
// frees them (on a copy-on-write file system or an SSD the old blocks may
// survive below the file system; the ciphertext is useless without the key,
// which only the recipients' devices held).
package diskblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/skymsg/sky/server/blob"
)

// Store is a directory of blobs.
type Store struct {
	dir string
	mu  sync.Mutex
	m   map[blob.ID]*entry
}

type entry struct {
	mu       sync.Mutex // held while the file is written or wiped
	size     int64
	have     int64
	created  time.Time
	finished bool
	gone     bool
}

// Open opens (creating it if needed) the blob directory dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blob directory: %w", err)
	}
	s := &Store{dir: dir, m: map[blob.ID]*entry{}}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("blob directory: %w", err)
	}
	for _, de := range des {
		id, e, ok := parseName(de.Name())
		if !ok {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			return nil, fmt.Errorf("blob directory: %w", err)
		}
		e.have = min(fi.Size(), e.size)
		s.m[id] = e
	}
	return s, nil
}

func name(id blob.ID, e *entry) string {
	n := id.String() + "." + strconv.FormatInt(e.created.Unix(), 10) + "." + strconv.FormatInt(e.size, 10)
	if !e.finished {
		n += ".part"
	}
	return n
}

func parseName(n string) (blob.ID, *entry, bool) {
	e := &entry{finished: true}
	if rest, ok := strings.CutSuffix(n, ".part"); ok {
		n, e.finished = rest, false
	}
	f := strings.Split(n, ".")
	if len(f) != 3 {
		return blob.ID{}, nil, false
	}
	id, ok := blob.ParseID(f[0])
	c, err1 := strconv.ParseInt(f[1], 10, 64)
	sz, err2 := strconv.ParseInt(f[2], 10, 64)
	if !ok || err1 != nil || err2 != nil || sz < 0 {
		return blob.ID{}, nil, false
	}
	e.created, e.size = time.Unix(c, 0).UTC(), sz
	return id, e, true
}

func (s *Store) path(id blob.ID, e *entry) string { return filepath.Join(s.dir, name(id, e)) }

// get returns id's entry, locked, or ErrNotFound.
func (s *Store) get(id blob.ID) (*entry, error) {
	s.mu.Lock()
	e := s.m[id]
	s.mu.Unlock()
	if e == nil {
		return nil, blob.ErrNotFound
	}
	e.mu.Lock()
	if e.gone {
		e.mu.Unlock()
		return nil, blob.ErrNotFound
	}
	return e, nil
}

// Create implements blob.Store.
func (s *Store) Create(_ context.Context, id blob.ID, size int64, created time.Time) error {
	e := &entry{size: size, created: created.Truncate(time.Second).UTC()}
	s.mu.Lock()
	if s.m[id] != nil {
		s.mu.Unlock()
		return blob.ErrExists
	}
	s.m[id] = e
	s.mu.Unlock()
	f, err := os.OpenFile(s.path(id, e), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		s.mu.Lock()
		delete(s.m, id)
		s.mu.Unlock()
		return fmt.Errorf("creating a blob file: %w", err)
	}
	return f.Close()
}

// Put implements blob.Store.
func (s *Store) Put(_ context.Context, id blob.ID, offset int64, data []byte) error {
	e, err := s.get(id)
	if err != nil {
		return err
	}
	defer e.mu.Unlock()
	if err := blob.CheckPut(blob.Info{Size: e.size, Have: e.have, Finished: e.finished}, offset, len(data)); err != nil {
		return err
	}
	f, err := os.OpenFile(s.path(id, e), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("opening a blob file: %w", err)
	}
	_, err = f.WriteAt(data, offset)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		f, _ := os.OpenFile(s.path(id, e), os.O_WRONLY, 0)
		if f != nil {
			f.Truncate(e.have) // keep the file at what was acknowledged
			f.Close()
		}
		return fmt.Errorf("writing a blob file: %w", err)
	}
	e.have += int64(len(data))
	return nil
}

// Stat implements blob.Store.
func (s *Store) Stat(_ context.Context, id blob.ID) (blob.Info, error) {
	e, err := s.get(id)
	if err != nil {
		return blob.Info{}, err
	}
	defer e.mu.Unlock()
	return blob.Info{Size: e.size, Have: e.have, Finished: e.finished, Created: e.created}, nil
}

// Finish implements blob.Store.
func (s *Store) Finish(_ context.Context, id blob.ID) error {
	e, err := s.get(id)
	if err != nil {
		return err
	}
	defer e.mu.Unlock()
	if e.finished {
		return nil
	}
	if e.have != e.size {
		return blob.ErrIncomplete
	}
	part := s.path(id, e)
	if err := syncFile(part); err != nil {
		return err
	}
	e.finished = true
	if err := os.Rename(part, s.path(id, e)); err != nil {
		e.finished = false
		return fmt.Errorf("finishing a blob: %w", err)
	}
	return syncFile(s.dir)
}

func syncFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", filepath.Base(p), err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", filepath.Base(p), err)
	}
	return nil
}

// ReadAt implements blob.Store.
func (s *Store) ReadAt(_ context.Context, id blob.ID, p []byte, off int64) (int, int64, error) {
	e, err := s.get(id)
	if err != nil {
		return 0, 0, err
	}
	if !e.finished {
		e.mu.Unlock()
		return 0, 0, blob.ErrNotFound
	}
	// Open under the lock (so a sweep cannot unlink it between), read
	// without it: an open file stays readable.
	f, err := os.Open(s.path(id, e))
	size := e.size
	e.mu.Unlock()
	if err != nil {
		return 0, 0, fmt.Errorf("opening a blob: %w", err)
	}
	defer f.Close()
	if off >= size {
		return 0, size, nil
	}
	n, err := f.ReadAt(p[:min(int64(len(p)), size-off)], off)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, size, fmt.Errorf("reading a blob: %w", err)
	}
	return n, size, nil
}

// Sweep implements blob.Store: expired blobs are overwritten with zeros,
// synced, and unlinked.
func (s *Store) Sweep(_ context.Context, cutoff, unfinished time.Time) (int, error) {
	s.mu.Lock()
	var ids []blob.ID
	for id, e := range s.m {
		if !e.created.After(cutoff) || (!e.finished && !e.created.After(unfinished)) {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	n := 0
	for _, id := range ids {
		e, err := s.get(id)
		if err != nil {
			continue
		}
		err = wipe(s.path(id, e))
		if err == nil {
			e.gone = true
			s.mu.Lock()
			delete(s.m, id)
			s.mu.Unlock()
			n++
		}
		e.mu.Unlock()
		if err != nil {
			return n, err
		}
	}
	if n > 0 {
		return n, syncFile(s.dir)
	}
	return n, nil
}

// wipe overwrites the file at p with zeros, syncs it, and unlinks it.
func wipe(p string) error {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("wiping a blob: %w", err)
	}
	fi, err := f.Stat()
	if err == nil {
		zero := make([]byte, 64<<10)
		for off := int64(0); off < fi.Size() && err == nil; off += int64(len(zero)) {
			_, err = f.WriteAt(zero[:min(int64(len(zero)), fi.Size()-off)], off)
		}
	}
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	if err != nil {
		return fmt.Errorf("wiping a blob: %w", err)
	}
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("removing a blob: %w", err)
	}
	return nil
}

// Close implements blob.Store.
func (s *Store) Close() error { return nil }

// Dir returns the directory (for audits).
func (s *Store) Dir() string { return s.dir }
