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
	v := t.s.seal.Seal(envelope.AD("seen", "v", k), encodeSeen(id, toNanos(at)))
	res, err := t.exec(`INSERT INTO seen (k, v) VALUES (?, ?) ON CONFLICT (k) DO NOTHING`, k, v)
	if err != nil {
		return false, fmt.Errorf("writing the dedupe record: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Seen reports whether id was marked seen.
func (t *Tx) Seen(id string) (bool, error) {
	var n int
	err := t.queryRow(`SELECT count(*) FROM seen WHERE k = ?`, t.hash("seen", []byte(id))).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("reading the dedupe record: %w", err)
	}
	return n > 0, nil
}

// ForgetSeen removes the entries marked before `before` and reports how many
// went. The SDK keeps entries at least as long as the server may hold a
// message (its maximum TTL).
func (t *Tx) ForgetSeen(before time.Time) (int, error) {
	if err := t.writable(); err != nil {
		return 0, err
	}
	rows, err := t.query(`SELECT k, v FROM seen`)
	if err != nil {
		return 0, fmt.Errorf("reading the dedupe record: %w", err)
	}
	var old [][]byte
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return 0, fmt.Errorf("reading the dedupe record: %w", err)
		}
		pt, err := t.s.seal.Open(envelope.AD("seen", "v", k), v)
		if err != nil {
			rows.Close()
			return 0, corrupt("dedupe record", err)
		}
		_, at, err := decodeSeen(pt)
		if err != nil {
			rows.Close()
			return 0, corrupt("dedupe record", err)
		}
		if at < toNanos(before) {
			old = append(old, k)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("reading the dedupe record: %w", err)
	}
	for _, k := range old {
		if _, err := t.exec(`DELETE FROM seen WHERE k = ?`, k); err != nil {
			return 0, fmt.Errorf("deleting from the dedupe record: %w", err)
		}
	}
	if len(old) > 0 {
		t.scrub = true
	}
	return len(old), nil
}
