// Package sqlite is skyd's embedded storage backend: one SQLite file opened
// with the pure-Go modernc.org/sqlite driver, in WAL mode with
// synchronous=FULL (a committed transaction is fsynced) and secure_delete=ON
// (deleted rows are overwritten in the file, not merely unlinked).
//
// All writes go through a single connection, so they never contend with each
// other; reads use a separate pool that WAL lets run beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/skymsg/sky/server/store"
)

// Store is a store.Store on one SQLite file.
type Store struct {
	w  *sql.DB // the one writer connection
	r  *sql.DB // readers (query_only)
	cp *sql.DB // the checkpointer's connection

	stopCheckpoints chan struct{}
	checkpointsDone chan struct{}

	// Statements of the hot path, prepared once: parsing SQL for every
	// message would cost more than storing it.
	inserts     map[int]*sql.Stmt // on w, by row count (insertSizes)
	deletes     map[int]*sql.Stmt // on w, by sequence-number count (deleteSizes)
	countQueued *sql.Stmt         // on w
	pending     *sql.Stmt         // on r

	sync     *walSync     // makes commits durable
	walChore atomic.Int32 // WAL maintenance the writer owes (choreNone, …)

	queueMu sync.Mutex               // held by every write to messages, through its cache update
	queued  map[store.Address]int64  // messages queued per device (see queuedNow)
	last    map[store.Address]uint64 // newest sequence number committed per device (see queuedNow)
}

var _ store.Store = (*Store)(nil)

const pragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=secure_delete(ON)&_pragma=cache_size(-65536)"

// Open opens (creating if needed) the database file at path and runs any
// schema migrations it lacks.
func Open(ctx context.Context, path string) (*Store, error) {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath()
	// The writer never checkpoints: a background goroutine does, so a
	// commit never waits for pages to be copied into the database file.
	// Nor does it fsync: walSync does, after the commit, for many commits
	// at once, and nothing is acknowledged before (see sync.go).
	w, err := sql.Open("sqlite", dsn+"?"+pragmas+"&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(0)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn+"?"+pragmas+"&_pragma=synchronous(FULL)&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(2, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	cp, err := sql.Open("sqlite", dsn+"?"+pragmas+"&_pragma=synchronous(FULL)")
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	cp.SetMaxOpenConns(1)
	s := &Store{w: w, r: r, cp: cp, stopCheckpoints: make(chan struct{}), checkpointsDone: make(chan struct{}), queued: map[store.Address]int64{}, last: map[store.Address]uint64{}}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	var last int64
	if err := w.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM messages`).Scan(&last); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	if s.sync, err = openWALSync(path, uint64(last)); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	go s.checkpointLoop()
	return s, nil
}

// Checkpoints. PASSIVE checkpoints run beside the writer every
// passiveEvery and copy committed pages into the database file without
// blocking anyone. Under steady writes that is not enough: SQLite starts
// reusing the WAL from its beginning only when a write transaction starts
// with every frame already copied, which never happens while commits follow
// each other, so the WAL would grow without bound (gigabytes in minutes)
// and hold the ciphertext of messages long deleted. So the writer itself,
// between two transactions, checkpoints what the last PASSIVE checkpoint
// left (little) and restarts the WAL from its beginning once past
// walRestartFrames (a stall of milliseconds). At least every truncateEvery
// the WAL is also emptied: truncated to nothing when little was written
// since its last restart, or, under heavy writes, restarted, so that the
// new frames overwrite the old ones within seconds (truncating a large file
// stalls the writer about a millisecond per megabyte on some disks).
var (
	passiveEvery            = 100 * time.Millisecond
	truncateEvery           = time.Minute
	walRestartFrames  int64 = 65536 // 256 MiB of 4 KiB pages: a restart every ~10 s at 10,000 msgs/s
	walTruncateFrames int64 = 4096  // 16 MiB: truncating more would stall
)

// WAL maintenance the writer owes (Store.walChore).
const (
	choreNone = iota
	choreRestart
	choreTruncate
)

func (s *Store) checkpointLoop() {
	defer close(s.checkpointsDone)
	tick := time.NewTicker(passiveEvery)
	defer tick.Stop()
	lastTruncate := time.Now()
	for {
		select {
		case <-s.stopCheckpoints:
			return
		case <-tick.C:
		}
		// Errors (SQLITE_BUSY while another checkpoint runs) are retried on
		// the next tick.
		var busy, logFrames, done int64
		if err := s.cp.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &done); err != nil {
			continue
		}
		switch {
		case time.Since(lastTruncate) >= truncateEvery && logFrames <= walTruncateFrames:
			s.walChore.Store(choreTruncate)
			lastTruncate = time.Now()
		case time.Since(lastTruncate) >= truncateEvery, logFrames > walRestartFrames:
			s.walChore.CompareAndSwap(choreNone, choreRestart)
			lastTruncate = time.Now()
		}
	}
}

// doWALChore runs the WAL maintenance the checkpointer asked for, on the
// writer connection between transactions.
func (s *Store) doWALChore(ctx context.Context) {
	mode := "RESTART"
	switch s.walChore.Swap(choreNone) {
	case choreNone:
		return
	case choreTruncate:
		mode = "TRUNCATE"
	}
	// On failure (a reader holding an old snapshot past the busy timeout)
	// the next PASSIVE checkpoint asks again.
	s.w.ExecContext(ctx, "PRAGMA wal_checkpoint("+mode+")")
}

func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		db  *sql.DB
		dst **sql.Stmt
		sql string
	}{
		{s.w, &s.countQueued, `SELECT (SELECT count(*) FROM messages WHERE account = ?1 AND device = ?2), (SELECT COALESCE(MAX(seq), 0) FROM messages WHERE account = ?1 AND device = ?2) FROM devices WHERE account = ?1 AND id = ?2`},
		{s.r, &s.pending, `SELECT seq, received, body FROM messages
			WHERE account = ? AND device = ? AND seq > ? AND seq <= ? AND received > ? ORDER BY seq LIMIT ?`},
	} {
		st, err := p.db.PrepareContext(ctx, p.sql)
		if err != nil {
			return err
		}
		*p.dst = st
	}
	s.deletes = map[int]*sql.Stmt{}
	for _, n := range deleteSizes {
		st, err := s.w.PrepareContext(ctx, `DELETE FROM messages WHERE account = ? AND device = ? AND seq IN (`+placeholders(n)+`)`)
		if err != nil {
			return err
		}
		s.deletes[n] = st
	}
	s.inserts = map[int]*sql.Stmt{}
	for _, n := range insertSizes {
		rows := strings.Repeat("(?, ?, ?, ?), ", n)
		st, err := s.w.PrepareContext(ctx, `INSERT INTO messages (account, device, received, body) VALUES `+rows[:len(rows)-2])
		if err != nil {
			return err
		}
		s.inserts[n] = st
	}
	return nil
}

// placeholders returns n comma-separated question marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// Close closes the database.
func (s *Store) Close() error {
	if s.stopCheckpoints != nil {
		close(s.stopCheckpoints)
		<-s.checkpointsDone
		s.stopCheckpoints = nil
	}
	for _, st := range []*sql.Stmt{s.countQueued, s.pending} {
		if st != nil {
			st.Close()
		}
	}
	for _, m := range []map[int]*sql.Stmt{s.inserts, s.deletes} {
		for _, st := range m {
			st.Close()
		}
	}
	// A last checkpoint leaves the WAL empty for the next start.
	s.cp.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	if s.sync != nil {
		s.sync.close()
	}
	return errors.Join(s.r.Close(), s.cp.Close(), s.w.Close())
}

// tx runs fn in a write transaction (BEGIN IMMEDIATE), commits it and
// returns once the commit is durable.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	t, err := s.commitTx(ctx, fn, nil)
	if err != nil {
		return err
	}
	return s.sync.wait(t)
}

// commitTx runs fn in a write transaction and commits it, without waiting
// for the commit to be durable: it returns the walSync ticket to wait for.
// maxSeq, if set, is called after fn succeeded for the highest message
// sequence number the transaction wrote.
func (s *Store) commitTx(ctx context.Context, fn func(*sql.Tx) error, maxSeq func() uint64) (uint64, error) {
	if err := s.sync.broken(); err != nil {
		return 0, err
	}
	s.doWALChore(ctx)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sqlite: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("sqlite: commit: %w", err)
	}
	var seq uint64
	if maxSeq != nil {
		seq = maxSeq()
	}
	return s.sync.commit(seq), nil
}

// Secret implements store.Store.
func (s *Store) Secret(ctx context.Context, name string, n int) ([]byte, error) {
	var v []byte
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)`, name, store.RandomBytes(n)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = ?`, name).Scan(&v)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: secret %q: %w", name, err)
	}
	return v, nil
}
