package backup

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/client/store"
)

func TestRecoveryKeyCode(t *testing.T) {
	k := NewRecoveryKey()
	code := k.Code()
	if len(strings.ReplaceAll(code, " ", "")) != CodeLen || strings.Count(code, " ") != CodeLen/4-1 {
		t.Fatalf("code %q is not %d characters in groups of four", code, CodeLen)
	}
	for name, in := range map[string]string{
		"as shown":   code,
		"lowercase":  strings.ToLower(code),
		"dashes":     strings.ReplaceAll(code, " ", "-"),
		"no spaces":  strings.ReplaceAll(code, " ", ""),
		"digits":     strings.NewReplacer("O", "0", "I", "1", "B", "8").Replace(code),
		"line break": code[:20] + "\n" + code[20:],
	} {
		got, err := ParseRecoveryKey(in)
		if err != nil || *got.b != *k.b {
			t.Errorf("%s: ParseRecoveryKey = %v", name, err)
		}
	}
	typo := []byte(code)
	typo[5] = map[bool]byte{true: 'B', false: 'A'}[typo[5] == 'A']
	for name, in := range map[string]string{
		"typo":      string(typo),
		"too short": code[:len(code)-1],
		"too long":  code + "A",
		"alphabet":  "!" + code[1:],
		"empty":     "",
	} {
		if _, err := ParseRecoveryKey(in); !errors.Is(err, ErrBadRecoveryCode) {
			t.Errorf("%s: ParseRecoveryKey = %v, want ErrBadRecoveryCode", name, err)
		}
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		out := fmt.Sprintf(verb, k) + fmt.Sprintf(verb, struct{ K RecoveryKey }{k})
		if strings.Contains(out, code[:4]) || strings.Contains(out, fmt.Sprintf("%x", k.b[:4])) {
			t.Errorf("%s shows the key: %s", verb, out)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, disappearing := range []bool{false, true} {
		t.Run(fmt.Sprintf("disappearing=%t", disappearing), func(t *testing.T) {
			f := newFixture(t)
			k := NewRecoveryKey()
			b, sum := f.write(t, k, Options{Disappearing: disappearing, Skip: skipOwnSenderKeys})
			for _, canary := range []string{"hello bob", "SESSION-CANARY", "EXPIRED-CANARY", "OUTBOX-CANARY", "Bob"} {
				if bytes.Contains(b, []byte(canary)) {
					t.Errorf("the backup file shows %q in the clear", canary)
				}
			}
			dir, rsum, err := restore(t, b, k, t0.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if rsum.AccountID != "me" || rsum.Messages != sum.Messages || rsum.Records != sum.Records || !rsum.Created.Equal(t0) {
				t.Errorf("restore summary %+v, backup summary %+v", rsum, sum)
			}
			st, err := store.Open(dir, newPass)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := store.Open(dir, pass); err == nil {
				t.Error("the old passphrase opens the restored store")
			}
			err = st.View(func(tx *store.Tx) error {
				checkRestored(t, tx, f, disappearing)
				return nil
			})
			// The restored store seals everything, as any store does.
			st.Scrub()
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				raw, _ := os.ReadFile(filepath.Join(dir, e.Name()))
				for _, canary := range []string{"hello bob", "identity key pair", "bob's sender key", "with an annex"} {
					if bytes.Contains(raw, []byte(canary)) {
						t.Errorf("the restored store's %s shows %q in the clear", e.Name(), canary)
					}
				}
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func checkRestored(t *testing.T, tx *store.Tx, f *fixture, disappearing bool) {
	t.Helper()
	if a, err := tx.Account(); err != nil || a.ID != "me" || string(a.Credential) != "cred" {
		t.Errorf("account %v, %v", a, err)
	}
	if l, err := tx.LocalIdentity(); err != nil || string(l.KeyPair) != "identity key pair" || l.RegistrationID != 7 {
		t.Errorf("identity %v, %v", l, err)
	}
	if c, err := tx.Contact("bob"); err != nil || c.Name != "Bob" {
		t.Errorf("contact %v, %v", c, err)
	}
	if p, err := tx.PeerIdentity(store.Address{Name: "bob", Device: 1}); err != nil || !p.Verified || string(p.Key) != "bob key" {
		t.Errorf("pinned identity %v, %v (verification must survive)", p, err)
	}
	if _, err := tx.Session(store.Address{Name: "bob", Device: 1}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session restored (%v); sessions must be started anew", err)
	}
	if ids, err := tx.PreKeyIDs(store.OneTimePreKey); err != nil || len(ids) != 1 || ids[0] != 5 {
		t.Errorf("prekeys %v, %v", ids, err)
	}
	if seen, err := tx.Seen("bob/m1"); err != nil || !seen {
		t.Errorf("dedupe record lost: %v, %v", seen, err)
	}
	if v, err := tx.Setting("sk/bob.1/g"); err != nil || string(v) != "bob's sender key" {
		t.Errorf("setting %q, %v", v, err)
	}
	if _, err := tx.Setting("sk/me.1/g"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a skipped setting was restored: %v", err)
	}
	if q, err := tx.Outbox(); err != nil || len(q) != 0 {
		t.Errorf("outbox %v, %v; want empty", q, err)
	}
	want := map[string]bool{"plain": true, "pending": true, "annotated": true, "running": disappearing, "unread": disappearing, "expired": false}
	for name, id := range f.ids {
		m, err := tx.Message(id)
		if !want[name] {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("message %s restored (%v)", name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("message %s: %v", name, err)
			continue
		}
		switch name {
		case "running":
			if !m.ExpiresAt.Equal(t0.Add(time.Hour)) {
				t.Errorf("running message's deadline %v, want %v", m.ExpiresAt, t0.Add(time.Hour))
			}
		case "unread":
			if !m.ExpiresAt.Equal(t0.Add(5*time.Minute)) || m.State != store.Received {
				t.Errorf("unread message: deadline %v state %v, want the backup's time plus its timer", m.ExpiresAt, m.State)
			}
		case "pending":
			if m.State != store.Failed || m.Failure == "" {
				t.Errorf("pending message restored as %v %q, want Failed with a reason", m.State, m.Failure)
			}
		case "annotated":
			if string(m.Annex) != "reactions" {
				t.Errorf("annex %q", m.Annex)
			}
		}
	}
}

// A message whose deadline passes between backup and restore is not
// restored; the others are.
func TestRestoreDropsPastDeadline(t *testing.T) {
	f := newFixture(t)
	k := NewRecoveryKey()
	b, _ := f.write(t, k, Options{Disappearing: true})
	dir, sum, err := restore(t, b, k, t0.Add(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if sum.LeftOut != 1 {
		t.Errorf("left out %d, want 1 (the unread message, deadline t0+5m)", sum.LeftOut)
	}
	st, err := store.Open(dir, newPass)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.View(func(tx *store.Tx) error {
		if _, err := tx.Message(f.ids["unread"]); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a message was restored past its deadline: %v", err)
		}
		if _, err := tx.Message(f.ids["running"]); err != nil {
			t.Errorf("running message: %v", err)
		}
		return nil
	})
}

// A backup made while a store is in use leaves it usable, and restoring
// into a home that holds a store is refused without touching it.
func TestRestoreRefusesExistingStore(t *testing.T) {
	f := newFixture(t)
	k := NewRecoveryKey()
	b, _ := f.write(t, k, Options{})
	f.st.Close()
	_, err := Restore(f.dir, bytes.NewReader(b), k, newPass, RestoreOptions{KDF: tinyKDF})
	if !errors.Is(err, ErrHomeInUse) {
		t.Fatalf("Restore over a store = %v, want ErrHomeInUse", err)
	}
	st, err := store.Open(f.dir, pass)
	if err != nil {
		t.Fatalf("the existing store no longer opens: %v", err)
	}
	st.Close()
}

func TestCreateIsAtomic(t *testing.T) {
	f := newFixture(t)
	k := NewRecoveryKey()
	dir := t.TempDir()
	path := filepath.Join(dir, "a.skybackup")
	if _, err := Create(f.st, path, k, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(f.st, path, k, Options{}); err == nil {
		t.Fatal("Create replaced an existing file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the backup (no temporary file)", len(entries))
	}
	b, _ := os.ReadFile(path)
	if _, _, err := restore(t, b, k, t0); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm()&0o077 != 0 {
		t.Errorf("backup file mode %v, %v: want readable by the user only", st.Mode(), err)
	}
}
