package postgres

import (
	"testing"

	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/server/store/storetest"
)

func TestConformance(t *testing.T) {
	db := TestDatabase(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(t.Context(), TestSchema(t, db))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMigrateTwiceAndNewerSchema(t *testing.T) {
	url := TestDatabase(t)
	s, err := Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(t.Context(), url)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	var v int
	s.db.QueryRow(t.Context(), `SELECT MAX(version) FROM schema_version`).Scan(&v)
	if v != len(migrations) {
		t.Fatalf("schema version %d, want %d", v, len(migrations))
	}
	s.db.Exec(t.Context(), `INSERT INTO schema_version VALUES (999)`)
	s.Close()
	if _, err := Open(t.Context(), url); err == nil {
		t.Fatal("opening a newer schema succeeded")
	}
}

// TestMigrateDropsSenderColumns: a database made before identified sends
// were removed (schema 4, a message with its sender columns filled) is
// migrated to one whose messages table has no sender columns, and its
// queued messages stay.
func TestMigrateDropsSenderColumns(t *testing.T) {
	url := TestDatabase(t)
	all := migrations
	migrations = all[:4]
	s, err := Open(t.Context(), url)
	migrations = all
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(t.Context(), `INSERT INTO messages (account, device, sender, sender_device, received, body) VALUES ('bob', 1, 'alice', 1, 1, '\x01')`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(t.Context(), url); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	defer s.Close()
	var cols, n int
	if err := s.db.QueryRow(t.Context(), `SELECT count(*) FROM information_schema.columns WHERE table_name = 'messages' AND column_name LIKE 'sender%'`).Scan(&cols); err != nil || cols != 0 {
		t.Errorf("messages still has %d sender columns (%v)", cols, err)
	}
	if err := s.db.QueryRow(t.Context(), `SELECT count(*) FROM messages WHERE account = 'bob' AND body = '\x01'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("queued message after migrating: %d, %v", n, err)
	}
}

// TestMigrateCodesCreated: a code stored before codes kept their creation
// day (schema 5) survives migration 6 with its day unknown (zero).
func TestMigrateCodesCreated(t *testing.T) {
	url := TestDatabase(t)
	all := migrations
	migrations = all[:5]
	s, err := Open(t.Context(), url)
	migrations = all
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(t.Context(), `INSERT INTO codes (hash, period, expires) VALUES ($1, 86400, 4102444800)`, make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(t.Context(), url); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	defer s.Close()
	cs, err := s.ListCodes(t.Context())
	if err != nil || len(cs) != 1 || !cs[0].Created.IsZero() || cs[0].Period != store.Day {
		t.Fatalf("ListCodes after migrating = %+v, %v; want the old code, creation day unknown", cs, err)
	}
}
