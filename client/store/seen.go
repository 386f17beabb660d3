package store

import (
	"fmt"
	"time"

	"github.com/skymsg/sky/client/store/envelope"
)

// The dedupe record: a keyed hash of every message ID the client has
// accepted, so a message the server delivers again (or replays) is shown
// once. Entries outlive the messages they name, so an expired message cannot
// come back through a replay.
//
// Entries are appended to the table seen_log in the order they are made,
// and the store keeps their keyed hashes in memory (loaded at open, changed
// only by committed transactions) to answer "seen before?". Written to a
// table keyed by the hash, as stores made before kept them (the table seen,
// still read, pruned and dumped), every entry landed on a random page of a
// growing B-tree, and that page went through the write-ahead log (95 log
// pages written for a push of 64 messages, 53 now; about 10 of the 110 µs
// of CPU a received message cost on the test VM). Appended, a push's
// entries share a page or two. The log's order is the order of acceptance, which a
// seized store's message rows show anyway; the hashes link to nothing else.

// seenSet is the keyed hashes of the dedupe record (HMAC-SHA256, 32
// bytes: about 45 bytes of memory an entry, so 14 MB for 300,000, ten
// thousand messages a day for the 31 days entries are kept).
type seenSet map[[32]byte]struct{}

// seenKey is k as a seenSet key; a row whose hash is not 32 bytes long is
// damaged.
func seenKey(k []byte) ([32]byte, error) {
	if len(k) != 32 {
		return [32]byte{}, corrupt("dedupe record key", nil)
	}
	return [32]byte(k), nil
}

// loadSeen reads the keyed hashes of both dedupe tables.
func (t *Tx) loadSeen() error {
	set := seenSet{}
	for _, q := range []string{`SELECT k FROM seen`, `SELECT k FROM seen_log`} {
		rows, err := t.query(q)
		if err != nil {
			return fmt.Errorf("reading the dedupe record: %w", err)
		}
		for rows.Next() {
			var k []byte
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return fmt.Errorf("reading the dedupe record: %w", err)
			}
			key, err := seenKey(k)
			if err != nil {
				rows.Close()
				return err
			}
			set[key] = struct{}{}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading the dedupe record: %w", err)
		}
	}
	t.s.seen = set
	return nil
}

// seenNow reports whether the keyed hash k is in the dedupe record as this
// transaction sees it.
func (t *Tx) seenNow(k [32]byte) bool {
	if _, ok := t.seenAdd[k]; ok {
		return true
	}
	if _, ok := t.seenDel[k]; ok {
		return false
	}
	_, ok := t.s.seen[k]
	return ok
}

// applySeen makes a committed transaction's dedupe changes the store's.
func (s *Store) applySeen(t *Tx) {
	for k := range t.seenDel {
		delete(s.seen, k)
	}
	for k := range t.seenAdd {
		s.seen[k] = struct{}{}
	}
}

// MarkSeen records id as seen at `at` and reports whether it was new. The
// SDK marks an envelope in the same transaction that stores its message,
// before acknowledging it to the server. id should name the sender too (for
// example sender + "/" + message ID).
func (t *Tx) MarkSeen(id string, at time.Time) (bool, error) {
	if err := t.writable(); err != nil {
		return false, err
	}
	if id == "" || !validTime(at) {
		return false, invalid("a seen message needs an ID and a time in 1970..2262")
	}
	k := t.hash("seen", []byte(id))
	key, err := seenKey(k)
	if err != nil {
		return false, err
	}
	if t.seenNow(key) {
		return false, nil
	}
	v := t.s.seal.Seal(envelope.AD("seen", "v", k), encodeSeen(id, toNanos(at)))
	if _, err := t.exec(`INSERT INTO seen_log (k, v) VALUES (?, ?)`, k, v); err != nil {
		return false, fmt.Errorf("writing the dedupe record: %w", err)
	}
	if t.seenAdd == nil {
		t.seenAdd = seenSet{}
	}
	t.seenAdd[key] = struct{}{}
	return true, nil
}

// Seen reports whether id was marked seen.
func (t *Tx) Seen(id string) (bool, error) {
	key, err := seenKey(t.hash("seen", []byte(id)))
	if err != nil {
		return false, err
	}
	return t.seenNow(key), nil
}

// ForgetSeen removes the entries marked before `before` and reports how many
// went. The SDK keeps entries at least as long as the server may hold a
// message (its maximum TTL).
func (t *Tx) ForgetSeen(before time.Time) (int, error) {
	if err := t.writable(); err != nil {
		return 0, err
	}
	n := 0
	for _, table := range []string{"seen", "seen_log"} {
		old, err := t.oldSeen(table, before)
		if err != nil {
			return 0, err
		}
		for _, e := range old {
			var err error
			if table == "seen" {
				_, err = t.exec(`DELETE FROM seen WHERE k = ?`, e.k)
			} else {
				_, err = t.exec(`DELETE FROM seen_log WHERE id = ?`, e.id)
			}
			if err != nil {
				return 0, fmt.Errorf("deleting from the dedupe record: %w", err)
			}
			key, err := seenKey(e.k)
			if err != nil {
				return 0, err
			}
			if t.seenDel == nil {
				t.seenDel = seenSet{}
			}
			t.seenDel[key] = struct{}{}
			delete(t.seenAdd, key)
		}
		n += len(old)
	}
	if n > 0 {
		t.scrub = true
	}
	return n, nil
}

// seenRow names a dedupe entry: its keyed hash and, in seen_log, its row.
type seenRow struct {
	id int64
	k  []byte
}

// oldSeen returns the entries of table (seen or seen_log) marked before
// `before`.
func (t *Tx) oldSeen(table string, before time.Time) ([]seenRow, error) {
	q := `SELECT 0, k, v FROM seen`
	if table == "seen_log" {
		q = `SELECT id, k, v FROM seen_log`
	}
	rows, err := t.query(q)
	if err != nil {
		return nil, fmt.Errorf("reading the dedupe record: %w", err)
	}
	defer rows.Close()
	var old []seenRow
	for rows.Next() {
		var id int64
		var k, v []byte
		if err := rows.Scan(&id, &k, &v); err != nil {
			return nil, fmt.Errorf("reading the dedupe record: %w", err)
		}
		pt, err := t.s.seal.Open(envelope.AD("seen", "v", k), v)
		if err != nil {
			return nil, corrupt("dedupe record", err)
		}
		_, at, err := decodeSeen(pt)
		if err != nil {
			return nil, corrupt("dedupe record", err)
		}
		if at < toNanos(before) {
			old = append(old, seenRow{id: id, k: k})
		}
	}
	return old, rows.Err()
}
