package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/server/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "sky.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestPragmasAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sky.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	// synchronous=NORMAL: walSync fsyncs after each commit (sync.go).
	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "1", "secure_delete": "1"} {
		var got string
		if err := s.w.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil || got != want {
			t.Errorf("writer PRAGMA %s = %q, %v; want %q", pragma, got, err, want)
		}
	}
	if _, err := s.Secret(t.Context(), "k", 16); err != nil {
		t.Fatal(err)
	}
	want, _ := s.Secret(t.Context(), "k", 16)
	s.Close()
	// Reopening runs no migration twice and keeps the data.
	s, err = Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	got, _ := s.Secret(t.Context(), "k", 16)
	if string(got) != string(want) {
		t.Fatal("secret changed across reopen")
	}
	// A database from a newer skyd is refused with a clear error.
	s.w.Exec(`INSERT INTO schema_version (version) VALUES (999)`)
	s.Close()
	if _, err := Open(t.Context(), path); err == nil {
		t.Fatal("opening a newer schema succeeded")
	}
}
