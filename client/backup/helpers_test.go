package backup

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/client/store/keyfile"
)

var (
	tinyKDF = keyfile.Params{Time: 1, MemoryKiB: 64, Threads: 1}
	pass    = []byte("old passphrase")
	newPass = []byte("new passphrase")
	t0      = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
)

// fixture is a store with one of everything a backup deals with.
type fixture struct {
	dir string
	st  *store.Store
	ids map[string]int64 // message numbers by name
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	st, err := store.Create(dir, pass, store.Options{KDF: tinyKDF})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{dir: dir, st: st, ids: map[string]int64{}}
	msgs := map[string]*store.Message{
		"plain":     {Conversation: "bob", Sender: "bob", MessageID: "m1", State: store.Read, Body: store.Secret("hello bob"), ReceivedAt: t0},
		"running":   {Conversation: "bob", Sender: "me", MessageID: "m2", Outgoing: true, State: store.Sent, Body: store.Secret("disappears at t0+1h"), SentAt: t0, Timer: time.Hour},
		"expired":   {Conversation: "bob", Sender: "me", MessageID: "m3", Outgoing: true, State: store.Sent, Body: store.Secret("EXPIRED-CANARY"), SentAt: t0.Add(-time.Hour), Timer: time.Minute},
		"unread":    {Conversation: "bob", Sender: "bob", MessageID: "m4", State: store.Received, Body: store.Secret("unread with a timer"), ReceivedAt: t0, Timer: 5 * time.Minute},
		"pending":   {Conversation: "carol", Sender: "me", MessageID: "m5", Outgoing: true, State: store.Pending, Body: store.Secret("not sent yet")},
		"annotated": {Conversation: "carol", Sender: "carol", MessageID: "m6", State: store.Read, Body: store.Secret("with an annex"), Annex: store.Secret("reactions")},
	}
	err = st.Update(func(tx *store.Tx) error {
		if err := tx.SetAccount(store.Account{ID: "me", Server: "ws://sky.test", DeviceID: 1, Credential: store.Secret("cred")}); err != nil {
			return err
		}
		if err := tx.SetLocalIdentity(store.LocalIdentity{KeyPair: store.Secret("identity key pair"), RegistrationID: 7}); err != nil {
			return err
		}
		for _, s := range [][2]string{{"default-timer", "x"}, {"sk/me.1/g", "own sender key"}, {"sk/bob.1/g", "bob's sender key"}} {
			if err := tx.SetSetting(s[0], []byte(s[1])); err != nil {
				return err
			}
		}
		if err := tx.PutContact(store.Contact{ID: "bob", Name: "Bob", AddedAt: t0}); err != nil {
			return err
		}
		if err := tx.PutPeerIdentity(store.Address{Name: "bob", Device: 1}, store.PeerIdentity{Key: []byte("bob key"), Verified: true, FirstSeen: t0}); err != nil {
			return err
		}
		if err := tx.PutSession(store.Address{Name: "bob", Device: 1}, []byte("SESSION-CANARY")); err != nil {
			return err
		}
		if err := tx.PutPreKey(store.OneTimePreKey, 5, []byte("prekey 5")); err != nil {
			return err
		}
		if _, err := tx.MarkPreKeyUsed(store.KyberPreKey, 9, []byte("use")); err != nil {
			return err
		}
		if _, err := tx.MarkSeen("bob/m1", t0); err != nil {
			return err
		}
		for _, name := range []string{"plain", "running", "expired", "unread", "pending", "annotated"} {
			m := msgs[name]
			if err := tx.AddMessage(m); err != nil {
				return err
			}
			f.ids[name] = m.ID
		}
		return tx.Enqueue(&store.Outgoing{To: "carol", MessageRef: f.ids["pending"], Payload: []byte("OUTBOX-CANARY"), CreatedAt: t0})
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// write makes a backup of f in memory.
func (f *fixture) write(t testing.TB, k RecoveryKey, opts Options) ([]byte, Summary) {
	t.Helper()
	if opts.Now.IsZero() {
		opts.Now = t0
	}
	var buf bytes.Buffer
	sum, err := Write(f.st, &buf, k, opts)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), sum
}

// restore restores b into a fresh home and returns the store directory.
func restore(t testing.TB, b []byte, k RecoveryKey, at time.Time) (string, Summary, error) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	sum, err := Restore(dir, bytes.NewReader(b), k, newPass, RestoreOptions{Now: at, KDF: tinyKDF})
	return dir, sum, err
}

func skipOwnSenderKeys(name string) bool { return strings.HasPrefix(name, "sk/me.") }
