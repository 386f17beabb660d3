package store

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/skymsg/sky/client/store/envelope"
)

// Tx is one transaction on the store, given to the function passed to
// Update or View. Everything done through a Tx is committed together, or not
// at all. A Tx must not be used after that function returns, nor from another
// goroutine.
type Tx struct {
	s        *Store
	tx       *sql.Tx
	readOnly bool
	// scrub: something was deleted or a long-lived secret overwritten;
	// checkpoint the WAL after commit so no old copy stays there.
	scrub bool
	// replaced: a frequently rewritten secret (a session) was overwritten;
	// checkpoint soon (scrubInterval) rather than at every commit.
	replaced bool
	// rewriteKey: the panic payload may have changed; rewrite the key file
	// after commit.
	rewriteKey bool
	// seenAdd and seenDel are the dedupe entries this transaction made and
	// removed, applied to Store.seen once it commits (seen.go).
	seenAdd, seenDel seenSet
	// nextMsg is the row number of the next message AddMessage writes, or 0
	// until looked up (nextMessageID).
	nextMsg int64
	// exp holds expiry changes (unix nanoseconds, 0: none) to apply to the
	// in-memory expiry index after commit.
	exp map[int64]int64
	// stmts are the statements of this transaction by query; unprepared
	// lists the queries to prepare on the database when it ends (stmts.go).
	stmts      map[string]*sql.Stmt
	unprepared []string
	// sessions are session records put in this transaction and not yet
	// written (PutSession), by address; sessionOrder is the order they were
	// first put in, for a deterministic flush.
	sessions     map[Address][]byte
	sessionOrder []Address
	// read caches what get read or put/del wrote in this transaction, by
	// table and key (nil value: no such row), so that a push's messages
	// from one peer look its contact, identity and settings up once. Every
	// write to the tables get reads goes through put or del, which keep it
	// current. It holds opened values and is wiped when the transaction ends.
	read map[string][]byte
}

// maxReadCache bounds the read cache of one transaction.
const maxReadCache = 4096

func readKey(table string, key []byte) string { return table + "\x00" + string(key) }

// remember caches value (nil: not found) for table and key.
func (t *Tx) remember(table string, key, value []byte) {
	if t.read == nil {
		t.read = make(map[string][]byte)
	}
	k := readKey(table, key)
	if old, ok := t.read[k]; ok {
		clear(old)
	} else if len(t.read) >= maxReadCache {
		return
	}
	if value != nil {
		value = bytes.Clone(value)
		if value == nil {
			value = []byte{}
		}
	}
	t.read[k] = value
}

// wipeRead clears the read cache's values.
func (t *Tx) wipeRead() {
	for _, v := range t.read {
		clear(v)
	}
	t.read = nil
}

// String, GoString and Format show only the type. Formatting must not walk
// into the Tx: it leads to the store's keys and to database/sql's
// transaction, whose fields another goroutine of database/sql writes (a
// data race the race detector reported for a Tx printed with %q).
func (t *Tx) String() string                { return "store.Tx" }
func (t *Tx) GoString() string              { return t.String() }
func (t *Tx) Format(f fmt.State, verb rune) { fmt.Fprint(f, t.String()) }

// Update runs fn in a read-write transaction and commits it if fn returns
// nil. A deletion (or the replacement of a long-lived secret) is followed by
// a WAL checkpoint, so that no old copy stays in the WAL; see Scrub for
// replaced sessions. Transactions are serialised.
func (s *Store) Update(fn func(*Tx) error) error { return s.run(false, fn) }

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(*Tx) error) error { return s.run(true, fn) }

func (s *Store) run(readOnly bool, fn func(*Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runLocked(readOnly, fn)
}

// runLocked is run for a caller that holds s.mu.
func (s *Store) runLocked(readOnly bool, fn func(*Tx) error) error {
	if s.closed {
		return ErrClosed
	}
	sqlTx, err := s.db.Begin()
	if err != nil {
		return fmt.Errorf("starting a store transaction: %w", err)
	}
	t := &Tx{s: s, tx: sqlTx, readOnly: readOnly}
	// Deferred first, so it runs last: after the commit or rollback has
	// given the connection back.
	defer func() { s.prepareNew(t.unprepared) }()
	done := false
	defer func() {
		if !done {
			sqlTx.Rollback()
		}
		for _, v := range t.sessions { // held session records not written: wipe them
			clear(v)
		}
		t.wipeRead()
	}()
	if err := fn(t); err != nil {
		return err
	}
	if readOnly {
		done = true
		return sqlTx.Rollback()
	}
	if err := t.flushSessions(); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("saving to the store: %w", err)
	}
	done = true
	s.exp.apply(t.exp)
	s.applySeen(t)
	if t.rewriteKey {
		if err := s.rewriteKeyFile(); err != nil {
			return err
		}
	}
	s.scrubPending = s.scrubPending || t.replaced
	if t.scrub || (s.scrubPending && time.Since(s.lastScrub) >= scrubInterval) {
		return s.scrubLocked()
	}
	return nil
}

// scrubInterval bounds how long a replaced session record may wait in the
// WAL while the store is written to. The wall clock serves only this rate
// limit, never a timer the user sees.
const scrubInterval = time.Second

// Scrub checkpoints the WAL now, so that every replaced or deleted row is gone
// from it. Deletions and expiry do this by themselves; replaced sessions wait
// for the next commit at least a second after the last checkpoint, or for
// Close. The SDK calls Scrub when it goes idle after a burst of messages.
func (s *Store) Scrub() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.scrubLocked()
}

func (s *Store) scrubLocked() error {
	if err := checkpoint(s.db); err != nil {
		return err
	}
	s.scrubPending = false
	s.lastScrub = time.Now()
	return nil
}

func (t *Tx) writable() error {
	if t.readOnly {
		return fmt.Errorf("%w: a change inside View; use Update", ErrInvalid)
	}
	return nil
}

func (t *Tx) setExpiry(id, at int64) {
	if t.exp == nil {
		t.exp = make(map[int64]int64)
	}
	t.exp[id] = at
}

// The tables keyed by lookup hash share these helpers. A row is (k, v) or
// (k, grp, v): k = Sum(table, key), grp = a hash to list rows by (a peer, a
// prekey kind), v = Seal(AD(table, "v", k), encodeKV(key, value)).

func (t *Tx) hash(domain string, parts ...[]byte) []byte { return t.s.index.Sum(domain, parts...) }

func (t *Tx) put(table string, key, grp, value []byte) error {
	if err := t.writable(); err != nil {
		return err
	}
	k := t.hash(table, key)
	v := t.s.seal.Seal(envelope.AD(table, "v", k), encodeKV(key, value))
	if _, ok := t.read[readKey(table, key)]; ok {
		delete(t.read, readKey(table, key)) // re-read after the write, in case it fails half-way
	}
	var err error
	if grp == nil {
		_, err = t.exec(`INSERT INTO `+table+` (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`, k, v)
	} else {
		_, err = t.exec(`INSERT INTO `+table+` (k, grp, v) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET grp = excluded.grp, v = excluded.v`, k, grp, v)
	}
	if err != nil {
		return fmt.Errorf("writing to the store (%s): %w", table, err)
	}
	t.remember(table, key, value)
	return nil
}

// get returns the value stored under key, ErrNotFound, or ErrCorrupt if the
// row does not open or holds another key.
func (t *Tx) get(table string, key []byte) ([]byte, error) {
	if v, ok := t.read[readKey(table, key)]; ok {
		if v == nil {
			return nil, ErrNotFound
		}
		return bytes.Clone(v), nil // callers may clear what they get
	}
	v, err := t.getRow(table, key)
	switch {
	case errors.Is(err, ErrNotFound):
		t.remember(table, key, nil)
	case err == nil:
		t.remember(table, key, v)
	}
	return v, err
}

// getRow is get without the cache.
func (t *Tx) getRow(table string, key []byte) ([]byte, error) {
	k := t.hash(table, key)
	var v []byte
	err := t.queryRow(`SELECT v FROM `+table+` WHERE k = ?`, k).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading the store (%s): %w", table, err)
	}
	gotKey, value, err := t.openKV(table, k, v)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(gotKey, key) {
		return nil, corrupt(table+" row holds another record", nil)
	}
	return value, nil
}

func (t *Tx) openKV(table string, k, v []byte) (key, value []byte, err error) {
	pt, err := t.s.seal.Open(envelope.AD(table, "v", k), v)
	if err != nil {
		return nil, nil, corrupt(table+" value", err)
	}
	key, value, err = decodeKV(pt)
	if err != nil {
		return nil, nil, corrupt(table+" value", err)
	}
	return key, value, nil
}

// del removes the row stored under key and reports whether there was one.
func (t *Tx) del(table string, key []byte) (bool, error) {
	if err := t.writable(); err != nil {
		return false, err
	}
	if v, ok := t.read[readKey(table, key)]; ok {
		clear(v)
		delete(t.read, readKey(table, key))
	}
	res, err := t.exec(`DELETE FROM `+table+` WHERE k = ?`, t.hash(table, key))
	if err != nil {
		return false, fmt.Errorf("deleting from the store (%s): %w", table, err)
	}
	n, _ := res.RowsAffected()
	if n > 0 {
		t.scrub = true
	}
	return n > 0, nil
}

type kvPair struct{ key, value []byte }

// list returns every row of table (or of one group), opened.
func (t *Tx) list(table string, grp []byte) ([]kvPair, error) {
	var rows *sql.Rows
	var err error
	if grp == nil {
		rows, err = t.query(`SELECT k, v FROM ` + table)
	} else {
		rows, err = t.query(`SELECT k, v FROM `+table+` WHERE grp = ?`, grp)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the store (%s): %w", table, err)
	}
	defer rows.Close()
	var out []kvPair
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("reading the store (%s): %w", table, err)
		}
		key, value, err := t.openKV(table, k, v)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(t.hash(table, key), k) {
			return nil, corrupt(table+" row holds another record", nil)
		}
		out = append(out, kvPair{key, value})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the store (%s): %w", table, err)
	}
	return out, nil
}
