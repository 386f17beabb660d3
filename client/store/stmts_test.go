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
		`INSERT INTO seen (k, v) VALUES (?, ?) ON CONFLICT (k) DO NOTHING`,
		`SELECT v FROM sessions WHERE k = ?`,
		`SELECT v FROM prekeys WHERE k = ?`,
		`INSERT INTO messages (conv, mid, v) VALUES (?, ?, x'')`,
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
