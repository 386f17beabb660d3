package sqlite

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
)

// walSync makes commits durable by fsyncing the write-ahead log itself,
// for many commits at once, outside the writer connection.
//
// The writer runs with synchronous=NORMAL: a COMMIT appends its frames to
// the WAL (write(2)) and returns without fsync. Nothing is acknowledged
// until wait has returned for it, and wait returns only after an fsync of
// the WAL file that began after the commit had returned, so an
// acknowledged commit is on disk exactly as with synchronous=FULL (which
// would fsync the same file inside COMMIT). What this gains: while one
// batch's fsync runs, the writer already executes the next batch, and one
// fsync covers every commit made while the previous one ran.
//
// SQLite still syncs the WAL before every checkpoint and when it starts
// reusing the file, as it does in any mode.
type walSync struct {
	f *os.File // the -wal file

	mu        sync.Mutex
	cond      sync.Cond
	committed uint64 // commits counted so far
	synced    uint64 // commits known durable
	maxSeq    uint64 // highest message sequence number committed
	syncing   bool
	err       error // a failed fsync: storage can no longer be trusted

	// durableSeq is the highest message sequence number whose commit is
	// durable; readers never return messages above it.
	durableSeq atomic.Uint64
}

func openWALSync(path string, durableSeq uint64) (*walSync, error) {
	f, err := os.OpenFile(path+"-wal", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("opening the write-ahead log to sync it: %w", err)
	}
	w := &walSync{f: f}
	w.cond.L = &w.mu
	w.maxSeq = durableSeq
	// What an earlier process committed may still be in the page cache
	// only: make it durable before anything is read.
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("syncing the write-ahead log: %w", err)
	}
	w.durableSeq.Store(durableSeq)
	return w, nil
}

// errSyncFailed marks every write after an fsync failed.
var errSyncFailed = errors.New("sqlite: syncing the write-ahead log to disk failed; check the disk and restart skyd")

// commit counts a commit that has just returned (and the highest message
// sequence number it wrote, or 0) and returns the ticket to wait for.
func (w *walSync) commit(maxSeq uint64) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.committed++
	w.maxSeq = max(w.maxSeq, maxSeq)
	return w.committed
}

// wait returns once commit ticket t is durable. The first waiter to find no
// fsync running starts one covering every commit counted so far; the others
// wait for it, then for the next if it did not cover them.
func (w *walSync) wait(t uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.synced < t {
		if w.err != nil {
			return w.err
		}
		if w.syncing {
			w.cond.Wait()
			continue
		}
		w.syncing = true
		target, seq := w.committed, w.maxSeq
		w.mu.Unlock()
		err := w.f.Sync()
		w.mu.Lock()
		w.syncing = false
		if err != nil {
			w.err = fmt.Errorf("%w (%v)", errSyncFailed, err)
		} else {
			w.synced = target
			w.durableSeq.Store(seq)
		}
		w.cond.Broadcast()
	}
	return nil
}

// broken returns the sticky error of a failed fsync, if any.
func (w *walSync) broken() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *walSync) close() error { return w.f.Close() }
