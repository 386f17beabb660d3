package store

import (
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"
)

// receiveLike does in one transaction what receiving a message does with the
// store: dedupe entry, session read and write, prekey lookup, message.
func receiveLike(t *testing.T, s *Store, i int) {
	t.Helper()
	update(t, s, func(tx *Tx) error {
		if fresh, err := tx.MarkSeen(fmt.Sprint("bob/", i), t0); err != nil || !fresh {
			return fmt.Errorf("MarkSeen: %v, %v", fresh, err)
		}
		if _, err := tx.Session(Address{"bob-id", 1}); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if _, err := tx.PreKey(OneTimePreKey, uint32(i)); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("PreKey: %v", err)
		}
		if err := tx.PutSession(Address{"bob-id", 1}, []byte(fmt.Sprint("session ", i))); err != nil {
			return err
		}
		return tx.AddMessage(&Message{Conversation: "bob-id", Sender: "bob-id", MessageID: fmt.Sprint(i), State: Received, Body: Secret("hi"), SentAt: t0, Timer: time.Hour})
	})
}

func prepared(s *Store) map[string]*sql.Stmt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.stmts)
}

// TestStatementsPreparedOnce: the queries of a received message are
// prepared on the database after their first transaction and reused, the
// same statements, by every later one; the set does not grow with the data;
// closing releases them and a reopened store prepares its own.
func TestStatementsPreparedOnce(t *testing.T) {
	dir, s := newTestStore(t, Options{})
	receiveLike(t, s, 0)
	first := prepared(s)
	for _, q := range []string{
		`INSERT INTO seen_log (k, v) VALUES (?, ?)`,
		`SELECT v FROM sessions WHERE k = ?`,
		`SELECT v FROM prekeys WHERE k = ?`,
		`INSERT INTO messages (id, conv, mid, v) VALUES (?, ?, ?, ?)`,
	} {
		if first[q] == nil {
			t.Errorf("not prepared after its first transaction: %s", q)
		}
	}
	for i := 1; i <= 50; i++ {
		receiveLike(t, s, i)
	}
	if now := prepared(s); !maps.Equal(now, first) {
		t.Errorf("the prepared statements changed over 50 more messages: %d, then %d", len(first), len(now))
	}
	var n int
	err := s.View(func(tx *Tx) error {
		ms, err := tx.Messages("bob-id", 0, 0)
		n = len(ms)
		return err
	})
	if err != nil || n != 51 {
		t.Fatalf("%d messages stored (%v), want 51", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(s.stmts) != 0 {
		t.Errorf("%d prepared statements left after Close", len(s.stmts))
	}
	s = reopen(t, dir)
	receiveLike(t, s, 51)
	if len(prepared(s)) == 0 {
		t.Error("a reopened store prepared nothing")
	}
}

// TestStatementInTransactionReused: within one transaction a query is
// prepared once, however often it runs (an expiry sweep deletes thousands
// of rows with the same three statements).
func TestStatementInTransactionReused(t *testing.T) {
	_, s := newTestStore(t, Options{})
	update(t, s, func(tx *Tx) error {
		for i := range 100 {
			if _, err := tx.MarkSeen(fmt.Sprint("id-", i), t0); err != nil {
				return err
			}
		}
		if len(tx.stmts) != 1 || len(tx.unprepared) != 1 {
			return fmt.Errorf("100 MarkSeen: %d statements in the transaction, %d to prepare; want 1 and 1", len(tx.stmts), len(tx.unprepared))
		}
		return nil
	})
}

// TestMessageNumbersNeverReused: AddMessage numbers messages itself (so a
// message is written in one statement) the way SQLite's AUTOINCREMENT
// would: one past the highest number ever used, in and across
// transactions, so the number of a deleted message, even the newest, never
// comes back (it is in the associated data of the row's seal).
func TestMessageNumbersNeverReused(t *testing.T) {
	_, s := newTestStore(t, Options{})
	add := func(tx *Tx, i int) int64 {
		m := &Message{Conversation: "bob-id", Sender: "bob-id", MessageID: fmt.Sprint(i), State: Received, Body: Secret("hi"), SentAt: t0}
		if err := tx.AddMessage(m); err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	var ids []int64
	update(t, s, func(tx *Tx) error {
		for i := range 3 {
			ids = append(ids, add(tx, i))
		}
		return tx.DeleteMessage(ids[2]) // the newest, deleted in its own transaction
	})
	update(t, s, func(tx *Tx) error {
		ids = append(ids, add(tx, 3))
		if err := tx.DeleteMessage(ids[3]); err != nil {
			return err
		}
		ids = append(ids, add(tx, 4)) // after a deletion in the same transaction
		return nil
	})
	update(t, s, func(tx *Tx) error { ids = append(ids, add(tx, 5)); return nil })
	for i := 1; i < len(ids); i++ {
		if ids[i] != ids[i-1]+1 {
			t.Fatalf("message numbers %v: not one past the last ever used", ids)
		}
	}
	err := s.View(func(tx *Tx) error {
		ms, err := tx.Messages("bob-id", 0, 0)
		if err == nil && len(ms) != 4 {
			err = fmt.Errorf("%d messages read back, want 4", len(ms))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
