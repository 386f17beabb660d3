package sqlite

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestWALStaysBounded: under writes that never pause, the WAL is restarted
// once past its limit instead of growing with everything ever written.
func TestWALStaysBounded(t *testing.T) {
	defer func(f int64, p time.Duration) { walRestartFrames, passiveEvery = f, p }(walRestartFrames, passiveEvery)
	walRestartFrames, passiveEvery = 256, 5*time.Millisecond // 1 MiB
	path := filepath.Join(t.TempDir(), "sky.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var h [32]byte
	s.AddCodes(t.Context(), []store.Code{{Hash: h, Period: time.Hour, Expires: time.Now().Add(time.Hour)}})
	if _, err := s.Register(t.Context(), store.Registration{CodeHash: h, ID: "acct000001", IdentityKey: []byte{1}, AuthKey: []byte{2}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	to := store.Address{Account: "acct000001", Device: 1}
	body := make([]byte, 1024)
	var prev []store.Ack
	var biggest int64
	deadline := time.Now().Add(20 * time.Second)
	for written := 0; written < 24<<20 && time.Now().Before(deadline); written += 64 * len(body) {
		b := &store.Batch{QueueCap: 1 << 20, Acks: prev}
		for range 64 {
			b.Messages = append(b.Messages, store.NewMessage{To: to, Received: time.Now(), Body: body})
		}
		if err := s.WriteBatch(t.Context(), b); err != nil {
			t.Fatal(err)
		}
		prev = []store.Ack{{To: to, Seqs: b.Seqs}}
		if fi, err := os.Stat(path + "-wal"); err == nil {
			biggest = max(biggest, fi.Size())
		}
	}
	// 24 MiB of messages written and deleted (far more WAL than that);
	// the WAL stays within a few times its limit.
	if biggest > 8<<20 {
		t.Fatalf("the WAL grew to %d bytes with a 1 MiB restart limit", biggest)
	}
	t.Logf("largest WAL: %d bytes", biggest)
}

// TestMigrateDropsSenderColumns: a database made before identified sends
// were removed (schema 4, a message with its sender columns filled) is
// migrated to one whose messages table has no sender columns, and its
// queued messages stay.
func TestMigrateDropsSenderColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sky.db")
	all := migrations
	migrations = all[:4]
	s, err := Open(t.Context(), path)
	migrations = all
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(`INSERT INTO messages (account, device, sender, sender_device, received, body) VALUES ('bob', 1, 'alice', 1, 1, x'01')`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(t.Context(), path); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	defer s.Close()
	cols, err := s.w.Query(`SELECT name FROM pragma_table_info('messages')`)
	if err != nil {
		t.Fatal(err)
	}
	defer cols.Close()
	for cols.Next() {
		var name string
		cols.Scan(&name)
		if strings.HasPrefix(name, "sender") {
			t.Errorf("messages still has column %s", name)
		}
	}
	var n int
	if err := s.w.QueryRow(`SELECT count(*) FROM messages WHERE account = 'bob' AND body = x'01'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("queued message after migrating: %d, %v", n, err)
	}
}

// TestMigrateCodesCreated: a code stored before codes kept their creation
// day (schema 5) survives migration 6 with its day unknown (zero).
func TestMigrateCodesCreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sky.db")
	all := migrations
	migrations = all[:5]
	s, err := Open(t.Context(), path)
	migrations = all
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(`INSERT INTO codes (hash, period, expires) VALUES (zeroblob(32), 86400, 4102444800)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(t.Context(), path); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	defer s.Close()
	cs, err := s.ListCodes(t.Context())
	if err != nil || len(cs) != 1 || !cs[0].Created.IsZero() || cs[0].Period != store.Day {
		t.Fatalf("ListCodes after migrating = %+v, %v; want the old code, creation day unknown", cs, err)
	}
}
