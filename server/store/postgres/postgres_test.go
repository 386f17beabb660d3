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
