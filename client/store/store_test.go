package store

import (
	"bytes"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/skymsg/sky/client/store/keyfile"
)

// fill stores one record of every kind, and returns them for comparison.
type fixture struct {
	account  Account
	identity LocalIdentity
	peer     PeerIdentity
	contact  Contact
	request  Request
	conv     Conversation
	msg      Message
	out      Outgoing
}

func fill(t testing.TB, s *Store) fixture {
	t.Helper()
	f := fixture{
		account:  Account{ID: "alice-id", Server: "wss://sky.example", DeviceID: 1, Credential: Secret("device-password")},
		identity: LocalIdentity{KeyPair: Secret("identity-key-pair-bytes"), RegistrationID: 4242},
		peer:     PeerIdentity{Key: []byte("bob-identity-public"), Verified: true, FirstSeen: t0},
		contact:  Contact{ID: "bob-id", Name: "Bob", AddedAt: t0},
		request:  Request{ID: "carol-id", FirstAt: t0.Add(time.Minute)},
		conv:     Conversation{ID: "bob-id", Timer: 30 * time.Second, UpdatedAt: t0},
		msg: Message{Conversation: "bob-id", Sender: "bob-id", MessageID: "m-1", State: Received,
			Body: Secret("hello alice"), SentAt: t0, ReceivedAt: t0.Add(time.Second), Timer: time.Minute},
		out: Outgoing{To: "bob-id", Payload: Secret("receipt"), CreatedAt: t0, Attempts: 2},
	}
	update(t, s, func(tx *Tx) error {
		return errors.Join(
			tx.SetAccount(f.account),
			tx.SetLocalIdentity(f.identity),
			tx.PutPeerIdentity(Address{"bob-id", 1}, f.peer),
			tx.PutSession(Address{"bob-id", 1}, []byte("session-1")),
			tx.PutSession(Address{"bob-id", 7}, []byte("session-7")),
			tx.PutPreKey(OneTimePreKey, 5, []byte("otpk-5")),
			tx.PutPreKey(OneTimePreKey, 3, []byte("otpk-3")),
			tx.PutPreKey(SignedPreKey, 1, []byte("spk-1")),
			tx.PutContact(f.contact),
			tx.PutRequest(f.request),
			tx.PutConversation(f.conv),
			tx.SetSetting("default-timer", []byte("30s")),
			tx.AddMessage(&f.msg),
			tx.Enqueue(&f.out),
		)
	})
	return f
}

func (f fixture) check(t testing.TB, s *Store) {
	t.Helper()
	err := s.View(func(tx *Tx) error {
		a, err := tx.Account()
		if err != nil || a.ID != f.account.ID || a.Server != f.account.Server || a.DeviceID != 1 || string(a.Credential) != string(f.account.Credential) {
			t.Errorf("account: %v, %v", a, err)
		}
		l, err := tx.LocalIdentity()
		if err != nil || string(l.KeyPair) != string(f.identity.KeyPair) || l.RegistrationID != 4242 {
			t.Errorf("local identity: %v", err)
		}
		p, err := tx.PeerIdentity(Address{"bob-id", 1})
		if err != nil || !bytes.Equal(p.Key, f.peer.Key) || !p.Verified || !p.FirstSeen.Equal(t0) {
			t.Errorf("peer identity: %+v, %v", p, err)
		}
		if _, err := tx.PeerIdentity(Address{"bob-id", 2}); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing peer identity: %v", err)
		}
		sess, err := tx.Session(Address{"bob-id", 7})
		if err != nil || string(sess) != "session-7" {
			t.Errorf("session: %v", err)
		}
		devs, err := tx.SessionDevices("bob-id")
		if err != nil || !slices.Equal(devs, []uint32{1, 7}) {
			t.Errorf("devices %v, %v", devs, err)
		}
		ids, err := tx.PreKeyIDs(OneTimePreKey)
		if err != nil || !slices.Equal(ids, []uint32{3, 5}) {
			t.Errorf("prekey IDs %v, %v", ids, err)
		}
		pk, err := tx.PreKey(SignedPreKey, 1)
		if err != nil || string(pk) != "spk-1" {
			t.Errorf("signed prekey: %v", err)
		}
		c, err := tx.Contact("bob-id")
		if err != nil || c != f.contact {
			t.Errorf("contact %+v, %v", c, err)
		}
		rs, err := tx.Requests()
		if err != nil || len(rs) != 1 || rs[0] != f.request {
			t.Errorf("requests %+v, %v", rs, err)
		}
		cv, err := tx.Conversation("bob-id")
		if err != nil || cv != f.conv {
			t.Errorf("conversation %+v, %v", cv, err)
		}
		v, err := tx.Setting("default-timer")
		if err != nil || string(v) != "30s" {
			t.Errorf("setting %q, %v", v, err)
		}
		m, err := tx.Message(f.msg.ID)
		if err != nil || !sameMessage(m, f.msg) {
			t.Errorf("message %+v, %v", m, err)
		}
		q, err := tx.Outbox()
		if err != nil || len(q) != 1 || q[0].ID != f.out.ID || string(q[0].Payload) != "receipt" || q[0].Attempts != 2 || !q[0].CreatedAt.Equal(t0) {
			t.Errorf("outbox %v, %v", q, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func sameMessage(a, b Message) bool {
	return a.ID == b.ID && a.Conversation == b.Conversation && a.Sender == b.Sender && a.MessageID == b.MessageID &&
		a.Outgoing == b.Outgoing && a.State == b.State && string(a.Body) == string(b.Body) &&
		a.SentAt.Equal(b.SentAt) && a.ReceivedAt.Equal(b.ReceivedAt) && a.ReadAt.Equal(b.ReadAt) &&
		a.Timer == b.Timer && a.ExpiresAt.Equal(b.ExpiresAt)
}

func TestEverythingSurvivesReopen(t *testing.T) {
	dir, s := newTestStore(t, Options{})
	f := fill(t, s)
	f.check(t, s)
	s.Close()
	f.check(t, reopen(t, dir))
}

func TestConnectionSettings(t *testing.T) {
	_, s := newTestStore(t, Options{})
	for pragma, want := range map[string]string{
		"journal_mode": "wal", "synchronous": "2", "secure_delete": "1", "locking_mode": "exclusive", "temp_store": "2",
	} {
		var got string
		if err := s.db.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil || got != want {
			t.Errorf("PRAGMA %s = %q, %v; want %q", pragma, got, err, want)
		}
	}
}

func TestCreateRefuses(t *testing.T) {
	dir, s := newTestStore(t, Options{})
	s.Close()
	if _, err := Create(dir, pass, Options{KDF: tinyKDF}); !errors.Is(err, ErrExists) {
		t.Errorf("create over a store: %v", err)
	}
	foreign := t.TempDir()
	os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("mine"), 0o600)
	if _, err := Create(foreign, pass, Options{KDF: tinyKDF}); !errors.Is(err, ErrDirNotEmpty) {
		t.Errorf("create in a used directory: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(foreign, "notes.txt")); err != nil || string(b) != "mine" {
		t.Error("create touched a file that is not the store's")
	}
	for name, tc := range map[string]struct {
		dir  string
		pass []byte
		opts Options
	}{
		"empty passphrase": {t.TempDir(), nil, Options{KDF: tinyKDF}},
		"bad KDF":          {t.TempDir(), pass, Options{KDF: keyfile.Params{Time: 1, MemoryKiB: 1, Threads: 1}}},
		"negative limit":   {t.TempDir(), pass, Options{KDF: tinyKDF, MaxFailedUnlocks: -1}},
		"query in path":    {t.TempDir() + "/a?b", pass, Options{KDF: tinyKDF}},
		"empty path":       {"", pass, Options{KDF: tinyKDF}},
	} {
		if _, err := Create(tc.dir, tc.pass, tc.opts); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestOpenWithoutStore(t *testing.T) {
	empty := t.TempDir()
	for _, dir := range []string{filepath.Join(empty, "missing"), empty} {
		if _, err := Open(dir, pass); !errors.Is(err, ErrNoStore) {
			t.Errorf("Open(%s): %v, want ErrNoStore", dir, err)
		}
		if ok, err := Exists(dir); ok || err != nil {
			t.Errorf("Exists(%s) = %t, %v", dir, ok, err)
		}
	}
	if _, err := os.Stat(filepath.Join(empty, "missing")); !os.IsNotExist(err) {
		t.Error("Open created a directory")
	}
}

func TestWrongPassphraseLosesNothing(t *testing.T) {
	dir, s := newTestStore(t, Options{})
	f := fill(t, s)
	s.Close()
	for range 3 {
		_, err := Open(dir, []byte("wrong"))
		var wp *WrongPassphraseError
		if !errors.Is(err, ErrWrongPassphrase) || !errors.As(err, &wp) || wp.AttemptsLeft != -1 {
			t.Fatalf("wrong passphrase: %v", err)
		}
	}
	kf, err := readKeyFile(dir)
	if err != nil || kf.FailedUnlocks != 3 {
		t.Fatalf("failed unlocks recorded: %v, %v", kf, err)
	}
	s = reopen(t, dir)
	f.check(t, s)
	if kf, _ := readKeyFile(dir); kf.FailedUnlocks != 0 {
		t.Fatalf("a good unlock did not reset the count: %v", kf)
	}
}

func TestStoreIsLockedWhileOpen(t *testing.T) {
	dir, s := newTestStore(t, Options{})
	if _, err := Open(dir, pass); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if ok, err := Exists(dir); !ok || err != nil {
		t.Fatalf("Exists on an open store = %t, %v", ok, err)
	}
	s.Close()
	reopen(t, dir)
}

func TestClosedStore(t *testing.T) {
	_, s := newTestStore(t, Options{})
	s.Close()
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if err := s.View(func(*Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("view after close: %v", err)
	}
	if _, err := s.Expire(t0); !errors.Is(err, ErrClosed) {
		t.Fatalf("expire after close: %v", err)
	}
	if err := s.SetPanic(panicPass, false); !errors.Is(err, ErrClosed) {
		t.Fatalf("set panic after close: %v", err)
	}
}

func TestKeyFileDamage(t *testing.T) {
	dir, s := newTestStore(t, Options{})
	f := fill(t, s)
	s.Close()
	path := filepath.Join(dir, keyName)
	orig, _ := os.ReadFile(path)
	for _, tc := range []struct {
		name   string
		edit   func([]byte) []byte
		opens  bool
		wanted error
	}{
		{"first copy torn", func(b []byte) []byte { b[700] ^= 1; return b }, true, nil},
		{"second copy torn", func(b []byte) []byte { b[keyfile.HalfSize+700] ^= 1; return b }, true, nil},
		{"both copies damaged", func(b []byte) []byte { b[700] ^= 1; b[keyfile.HalfSize+700] ^= 1; return b }, false, ErrCorrupt},
		{"truncated", func(b []byte) []byte { return b[:keyfile.HalfSize-1] }, false, ErrCorrupt},
		{"empty", func(b []byte) []byte { return nil }, false, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.WriteFile(path, tc.edit(bytes.Clone(orig)), 0o600)
			s, err := Open(dir, pass)
			if tc.opens {
				if err != nil {
					t.Fatal(err)
				}
				f.check(t, s)
				s.Close()
			} else if !errors.Is(err, tc.wanted) {
				t.Fatalf("got %v, want %v", err, tc.wanted)
			}
			os.WriteFile(path, orig, 0o600)
			s = reopen(t, dir)
			f.check(t, s)
			s.Close()
			orig, _ = os.ReadFile(path)
		})
	}
}

func TestDatabaseOfAnotherStore(t *testing.T) {
	dirA, a := newTestStore(t, Options{})
	fa := fill(t, a)
	a.Close()
	dirB, b := newTestStore(t, Options{})
	fill(t, b)
	b.Close()
	dbA, _ := os.ReadFile(filepath.Join(dirA, dbName))
	dbB, _ := os.ReadFile(filepath.Join(dirB, dbName))
	os.WriteFile(filepath.Join(dirA, dbName), dbB, 0o600)
	if _, err := Open(dirA, pass); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("foreign database: %v, want ErrCorrupt", err)
	}
	os.WriteFile(filepath.Join(dirA, dbName), dbA, 0o600)
	fa.check(t, reopen(t, dirA))
}

// rawDB opens a closed store's database without the store, as someone
// editing the file would.
func rawDB(t testing.TB, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, dbName))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	return db
}

func execSQL(t testing.TB, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatal(err)
	}
}

// TestTamperedRows: values swapped between rows, moved between
// conversations or truncated are reported as ErrCorrupt, and every other
// record still reads.
func TestTamperedRows(t *testing.T) {
	dir, s := newTestStore(t, Options{})
	var m1, m2 Message
	update(t, s, func(tx *Tx) error {
		m1 = Message{Conversation: "bob-id", Body: Secret("one"), SentAt: t0}
		m2 = Message{Conversation: "carol-id", Body: Secret("two"), SentAt: t0}
		return errors.Join(tx.AddMessage(&m1), tx.AddMessage(&m2),
			tx.PutContact(Contact{ID: "bob-id"}), tx.PutContact(Contact{ID: "carol-id"}), tx.PutContact(Contact{ID: "dave-id"}))
	})
	s.Close()
	db := rawDB(t, dir)
	execSQL(t, db, `UPDATE messages SET v = (SELECT v FROM messages WHERE id = ?) WHERE id = ?`, m2.ID, m1.ID)
	execSQL(t, db, `UPDATE message_keys SET v = (SELECT v FROM message_keys WHERE id = ?) WHERE id = ?`, m1.ID, m2.ID)
	var bob, carol []byte
	db.QueryRow(`SELECT k FROM contacts ORDER BY k LIMIT 1`).Scan(&bob)
	db.QueryRow(`SELECT k FROM contacts ORDER BY k LIMIT 1 OFFSET 1`).Scan(&carol)
	execSQL(t, db, `UPDATE contacts SET v = (SELECT v FROM contacts WHERE k = ?) WHERE k = ?`, carol, bob)
	execSQL(t, db, `UPDATE contacts SET v = substr(v, 1, length(v) - 1) WHERE k = ?`, carol)
	db.Close()

	s = reopen(t, dir)
	err := s.View(func(tx *Tx) error {
		for _, id := range []int64{m1.ID, m2.ID} {
			if _, err := tx.Message(id); !errors.Is(err, ErrCorrupt) {
				t.Errorf("message %d: %v, want ErrCorrupt", id, err)
			}
		}
		bad := 0
		for _, id := range []string{"bob-id", "carol-id", "dave-id"} {
			_, err := tx.Contact(id)
			if errors.Is(err, ErrCorrupt) {
				bad++
			} else if err != nil {
				t.Errorf("contact %s: %v", id, err)
			}
		}
		if bad != 2 {
			t.Errorf("%d contacts reported corrupt, want 2", bad)
		}
		if _, err := tx.Contacts(); !errors.Is(err, ErrCorrupt) {
			t.Errorf("listing contacts: %v, want ErrCorrupt", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMessageMovedToAnotherConversation(t *testing.T) {
	dir, s := newTestStore(t, Options{})
	var m, other Message
	update(t, s, func(tx *Tx) error {
		m = Message{Conversation: "bob-id", Body: Secret("for bob"), SentAt: t0}
		other = Message{Conversation: "carol-id", Body: Secret("for carol"), SentAt: t0}
		return errors.Join(tx.AddMessage(&m), tx.AddMessage(&other))
	})
	s.Close()
	db := rawDB(t, dir)
	execSQL(t, db, `UPDATE messages SET conv = (SELECT conv FROM messages WHERE id = ?) WHERE id = ?`, other.ID, m.ID)
	db.Close()
	s = reopen(t, dir)
	s.View(func(tx *Tx) error {
		if _, err := tx.Messages("carol-id", 0, 0); !errors.Is(err, ErrCorrupt) {
			t.Errorf("moved message: %v, want ErrCorrupt", err)
		}
		return nil
	})
}

func TestChangePassphrase(t *testing.T) {
	dir, s := newTestStore(t, Options{})
	f := fill(t, s)
	newPass := []byte("a new passphrase")
	if err := s.ChangePassphrase([]byte("wrong"), newPass); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong current passphrase: %v", err)
	}
	if err := s.ChangePassphrase(pass, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty new passphrase: %v", err)
	}
	if err := s.SetPanic(panicPass, false); err != nil {
		t.Fatal(err)
	}
	if err := s.ChangePassphrase(pass, panicPass); !errors.Is(err, ErrSamePassphrase) {
		t.Fatalf("new passphrase equal to the panic one: %v", err)
	}
	if err := s.ChangePassphrase(pass, newPass); err != nil {
		t.Fatal(err)
	}
	f.check(t, s)
	s.Close()
	if _, err := Open(dir, pass); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("old passphrase after change: %v", err)
	}
	s, err := Open(dir, newPass)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f.check(t, s)
	if set, _, _ := s.PanicSettings(); !set {
		t.Fatal("the panic passphrase was lost by the change")
	}
}

func TestSetPanicRejectsThePassphrase(t *testing.T) {
	_, s := newTestStore(t, Options{})
	if err := s.SetPanic(pass, true); !errors.Is(err, ErrSamePassphrase) {
		t.Fatalf("panic passphrase equal to the passphrase: %v", err)
	}
	if err := s.SetPanic(nil, true); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty panic passphrase: %v", err)
	}
	if set, _, err := s.PanicSettings(); set || err != nil {
		t.Fatalf("panic set after refusals: %t, %v", set, err)
	}
}

func TestPanicSettingsAndClear(t *testing.T) {
	dir, s := newTestStore(t, Options{})
	if err := s.SetPanic(panicPass, true); err != nil {
		t.Fatal(err)
	}
	if set, del, err := s.PanicSettings(); !set || !del || err != nil {
		t.Fatalf("after SetPanic: %t %t %v", set, del, err)
	}
	if err := s.ClearPanic(); err != nil {
		t.Fatal(err)
	}
	if set, _, _ := s.PanicSettings(); set {
		t.Fatal("still set after ClearPanic")
	}
	s.Close()
	if _, err := Open(dir, panicPass); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("cleared panic passphrase: %v, want ErrWrongPassphrase", err)
	}
	reopen(t, dir)
}

// TestKeyFileChangesAlikeWithAndWithoutPanic: every unlock rewrites both
// slots and the payload, so comparing copies of the key file taken before
// and after an unlock does not tell whether a panic passphrase is set.
func TestKeyFileChangesAlikeWithAndWithoutPanic(t *testing.T) {
	for _, withPanic := range []bool{false, true} {
		dir, s := newTestStore(t, Options{})
		if withPanic {
			if err := s.SetPanic(panicPass, true); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		before, _ := os.ReadFile(filepath.Join(dir, keyName))
		reopen(t, dir).Close()
		after, _ := os.ReadFile(filepath.Join(dir, keyName))
		// real slot, panic slot, payload: every one must have changed
		for _, r := range [][2]int{{72, 144}, {144, 216}, {216, 1280}} {
			if bytes.Equal(before[r[0]:r[1]], after[r[0]:r[1]]) {
				t.Errorf("panic set %t: bytes %d..%d unchanged by an unlock", withPanic, r[0], r[1])
			}
		}
	}
}

func TestUpdateErrorRollsBack(t *testing.T) {
	_, s := newTestStore(t, Options{})
	boom := errors.New("boom")
	var m Message
	err := s.Update(func(tx *Tx) error {
		m = Message{Conversation: "bob-id", Body: Secret("x"), SentAt: t0, Timer: time.Second, Outgoing: true}
		if err := tx.AddMessage(&m); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	s.View(func(tx *Tx) error {
		if _, err := tx.Message(m.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("rolled-back message: %v", err)
		}
		return nil
	})
	if !s.NextExpiry().IsZero() {
		t.Fatal("a rolled-back message is in the expiry index")
	}
}

func TestViewRefusesChanges(t *testing.T) {
	_, s := newTestStore(t, Options{})
	err := s.View(func(tx *Tx) error { return tx.PutContact(Contact{ID: "x"}) })
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("write in View: %v", err)
	}
}

func TestAccountMustFitPanicPayload(t *testing.T) {
	_, s := newTestStore(t, Options{})
	big := Account{ID: "a", Credential: make(Secret, keyfile.MaxAccount)}
	if err := s.Update(func(tx *Tx) error { return tx.SetAccount(big) }); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized account: %v", err)
	}
}

func TestMissingDatabase(t *testing.T) {
	dir, s := newTestStore(t, Options{})
	s.Close()
	os.Rename(filepath.Join(dir, dbName), filepath.Join(dir, "moved"))
	if _, err := Open(dir, pass); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("missing database: %v, want ErrCorrupt", err)
	}
	if _, err := os.Stat(filepath.Join(dir, dbName)); !os.IsNotExist(err) {
		t.Fatal("Open created an empty database")
	}
	os.Rename(filepath.Join(dir, "moved"), filepath.Join(dir, dbName))
	reopen(t, dir)
}
