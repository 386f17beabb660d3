package client

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/skymsg/sky/client/backup"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
)

// TestBackupRestore backs an account up, restores it on a fresh home (the
// old one retired) and checks it works end to end with an existing, verified
// contact: the contact writes first (the restored device started a session
// with it on opening), then the restored device writes; the contact sees no
// key change, and the verification survives.
func TestBackupRestore(t *testing.T) {
	s, _ := attachSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	a, b := alice.c.ID(), bob.c.ID()
	for _, u := range []*user{alice, bob} {
		if err := u.c.SetDefaultTimer(0); err != nil {
			t.Fatal(err)
		}
	}
	if err := alice.c.AddContact(b, "Bob"); err != nil {
		t.Fatal(err)
	}
	alice.send(b, "before the backup")
	texts(t, bob, 1)
	if err := bob.c.Accept(a); err != nil {
		t.Fatal(err)
	}
	bob.send(a, "bob before the backup")
	texts(t, alice, 1)
	g, err := alice.c.CreateGroup("Desk", []string{b})
	if err != nil {
		t.Fatal(err)
	}
	groupChange(t, bob, g.ID)
	if _, err := alice.c.SendGroup(g.ID, "group before"); err != nil {
		t.Fatal(err)
	}
	groupTexts(t, bob, g.ID, 1)
	if _, err := bob.c.SendGroup(g.ID, "bob's group text before"); err != nil {
		t.Fatal(err)
	}
	groupTexts(t, alice, g.ID, 1)
	// A file alice sent: her device keeps its blob, which the backup carries.
	doc := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(doc, []byte("FILE-CONTENT-IN-THE-BACKUP"), 0o600); err != nil {
		t.Fatal(err)
	}
	fm, _, err := alice.c.SendFiles(ctxT(t), b, "a file", []string{doc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	texts(t, bob, 1)
	sn, err := alice.c.SafetyNumber(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.c.Verify(ctxT(t), b, sn.Digits); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "alice.skybackup")
	r, err := alice.c.Backups().Create(file, backup.CreateOptions{})
	if err != nil || r.Code == "" {
		t.Fatalf("Create = %+v, %v", r, err)
	}
	signedBefore := signedPreKeyID(t, alice)
	alice.close() // the old device is retired
	before := sessionWith(t, bob, a)

	k, err := backup.ParseRecoveryKey(r.Code)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := filepath.Join(t.TempDir(), "home")
	if _, err := backup.Restore(dir, f, k, pass, backup.RestoreOptions{KDF: tinyKDF}); err != nil {
		t.Fatal(err)
	}
	restored := &user{t: t, dir: dir, opts: testOptions(nil)}
	t.Cleanup(restored.close)
	c, err := Open(ctxT(t), dir, pass, restored.opts)
	if err != nil {
		t.Fatal(err)
	}
	restored.c = c
	// With the server down: the file comes from the restored blob.
	s.srv.Stop()
	saved, err := c.SaveAttachment(shortCtx(t, 2*time.Second), fmt.Sprintf("%d.1", fm.LocalID), t.TempDir(), false, nil)
	s.start(s.addr)
	if err != nil {
		t.Fatalf("saving the restored attachment with the server down: %v", err)
	}
	if got, _ := os.ReadFile(saved); string(got) != "FILE-CONTENT-IN-THE-BACKUP" {
		t.Fatalf("restored attachment holds %q", got)
	}
	restored.start()
	if got := historyTexts(t, c, b); !slices.Contains(got, ">before the backup") || !slices.Contains(got, "<bob before the backup") {
		t.Fatalf("restored history %q", got)
	}
	contacts, err := c.Contacts()
	if err != nil || len(contacts) != 1 || !contacts[0].Verified {
		t.Fatalf("contacts after restore %+v, %v: want Bob, still verified", contacts, err)
	}
	restored.flush() // the receipt that starts the new session
	for deadline := time.Now().Add(10 * time.Second); string(sessionWith(t, bob, a)) == string(before); {
		if time.Now().After(deadline) {
			t.Fatal("bob's session with the restored account did not change")
		}
		time.Sleep(10 * time.Millisecond)
	}
	bob.send(a, "welcome back")
	if got := texts(t, restored, 1); got[0] != "welcome back" {
		t.Fatalf("restored got %q", got)
	}
	for deadline := time.Now().Add(10 * time.Second); signedPreKeyID(t, restored) == signedBefore; {
		if time.Now().After(deadline) {
			t.Fatal("the restored device kept the backup's signed prekey")
		}
		time.Sleep(10 * time.Millisecond)
	}
	restored.send(b, "from the restored device")
	if got := texts(t, bob, 1); got[0] != "from the restored device" {
		t.Fatalf("bob got %q", got)
	}
	// Groups: the restored device makes a new sender key and hands it out
	// with its first group text; bob's sender key, from the backup, still
	// opens his (even after he sent more since).
	if _, err := bob.c.SendGroup(g.ID, "bob's group text, not restored"); err != nil {
		t.Fatal(err)
	}
	if got := groupTexts(t, restored, g.ID, 1); got[0] != b+": bob's group text, not restored" {
		t.Fatalf("restored got %q in the group", got)
	}
	if _, err := restored.c.SendGroup(g.ID, "group text after the restore"); err != nil {
		t.Fatal(err)
	}
	if got := groupTexts(t, bob, g.ID, 1); got[0] != a+": group text after the restore" {
		t.Fatalf("bob got %q in the group", got)
	}
	for {
		select {
		case e := <-bob.sub.Events():
			if _, ok := e.(*IdentityChangedEvent); ok {
				t.Fatal("bob saw a key change after the restore")
			}
			continue
		default:
		}
		break
	}
}

// TestBackupSchedule: scheduled backups run when due on the client's clock,
// keep the newest N (erasing older ones), record a failure for Status, and
// refuse bad settings.
func TestBackupSchedule(t *testing.T) {
	s := startSkyd(t)
	clk := newClock()
	alice := newUser(t, s, testOptions(clk))
	m := alice.c.Backups()
	dir := t.TempDir()
	for name, bad := range map[string]backup.Schedule{
		"relative dir": {Dir: "backups", Every: 24 * time.Hour, Keep: 2},
		"too often":    {Dir: dir, Every: time.Minute, Keep: 2},
		"keep none":    {Dir: dir, Every: 24 * time.Hour, Keep: 0},
		"missing dir":  {Dir: filepath.Join(dir, "nope"), Every: 24 * time.Hour, Keep: 2},
	} {
		if _, err := m.SetSchedule(bad); err == nil {
			t.Errorf("%s: SetSchedule accepted %+v", name, bad)
		}
	}
	if _, _, err := m.RunDue(true); !errors.Is(err, backup.ErrNoSchedule) {
		t.Fatalf("RunDue without a schedule = %v", err)
	}
	code, err := m.SetSchedule(backup.Schedule{Dir: dir, Every: 24 * time.Hour, Keep: 2})
	if err != nil || code == "" {
		t.Fatalf("SetSchedule = %q, %v: want the new recovery key", code, err)
	}
	var made []string
	for i := range 4 {
		r, ran, err := m.RunDue(false)
		if err != nil || !ran {
			t.Fatalf("run %d: ran %t, %v", i, ran, err)
		}
		made = append(made, r.Path)
		if _, ran, _ := m.RunDue(false); ran {
			t.Fatalf("run %d: a second backup ran before the interval passed", i)
		}
		clk.Advance(25 * time.Hour)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 || entries[0].Name() != filepath.Base(made[2]) || entries[1].Name() != filepath.Base(made[3]) {
		t.Fatalf("directory holds %v, want the newest two of %v", entries, made)
	}
	st, err := m.Status()
	if err != nil || st.LastPath != made[3] || !slices.Equal(st.Files, []string{made[3], made[2]}) || !st.Next.Equal(st.Last.Add(24*time.Hour)) {
		t.Fatalf("status %+v, %v", st, err)
	}
	os.RemoveAll(dir)
	if _, ran, err := m.RunDue(false); !ran || err == nil {
		t.Fatalf("a backup into a removed directory: ran %t, %v", ran, err)
	}
	if st, _ := m.Status(); st.LastErr == "" {
		t.Fatal("the failed run is not in Status")
	}
	if _, err := m.SetSchedule(backup.Schedule{}); err != nil {
		t.Fatal(err)
	}
	if st, _ := m.Status(); st.Schedule.Every != 0 || !st.Next.IsZero() {
		t.Fatalf("schedule still on: %+v", st)
	}
}

// sessionWith returns u's session record with peer's device 1.
func sessionWith(t *testing.T, u *user, peer string) []byte {
	t.Helper()
	var rec []byte
	err := u.c.core.View(func(tx *store.Tx) error {
		r, err := tx.Session(store.Address{Name: peer, Device: 1})
		rec = append([]byte{}, r...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func signedPreKeyID(t *testing.T, u *user) uint32 {
	t.Helper()
	var id uint32
	u.c.core.View(func(tx *store.Tx) error {
		ps, err := core.LoadPreKeyState(tx)
		id = ps.SignedID
		return err
	})
	return id
}
