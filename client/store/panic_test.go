package store

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skymsg/sky/client/store/keyfile"
)

// panicFixture is a store with content, an account and a panic passphrase,
// closed, plus the byte strings no file may hold after a wipe.
type panicFixture struct {
	dir     string
	account Account
	needles map[string][]byte
}

func newPanicFixture(t *testing.T, deleteAccount bool) panicFixture {
	t.Helper()
	dir, s := newTestStore(t, Options{})
	c := canary(t)
	contact := "SKY" + canary(t)[7:]
	acct := Account{ID: "me-" + c[7:15], Server: "wss://sky.example", DeviceID: 1, Credential: Secret("cred-" + c)}
	update(t, s, func(tx *Tx) error {
		m := Message{Conversation: contact, Sender: contact, Body: Secret(c), SentAt: t0}
		return errors.Join(tx.SetAccount(acct), tx.PutContact(Contact{ID: contact}), tx.AddMessage(&m),
			tx.SetLocalIdentity(LocalIdentity{KeyPair: Secret("keypair-" + c)}))
	})
	if err := s.SetPanic(panicPass, deleteAccount); err != nil {
		t.Fatal(err)
	}
	mk := messageKeyOf(t, s, 1)
	s.Close()
	raw, err := os.ReadFile(filepath.Join(dir, keyName))
	if err != nil {
		t.Fatal(err)
	}
	needles := map[string][]byte{
		"canary":        []byte(c),
		"contact ID":    []byte(contact),
		"message key":   mk,
		"real slot":     raw[72:144],
		"panic slot":    raw[144:216],
		"panic payload": raw[216:1280],
		"salt":          raw[32:64],
	}
	return panicFixture{dir: dir, account: acct, needles: needles}
}

// checkErased checks the state after a completed wipe: no directory (or only
// what was not the store's), no needle in any file under the parent, and the
// real passphrase opens nothing.
func (f panicFixture) checkErased(t *testing.T) {
	t.Helper()
	parent := filepath.Dir(f.dir)
	if found := scan(t, parent, f.needles); len(found) > 0 {
		t.Fatalf("after the wipe, found %v", found)
	}
	if _, err := os.Stat(f.dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("store directory still there (%v): %v", err, files(t, f.dir))
	}
	if _, err := Open(f.dir, pass); !errors.Is(err, ErrNoStore) {
		t.Fatalf("real passphrase after the wipe: %v, want ErrNoStore", err)
	}
	var we *WipedError
	if _, err := Open(f.dir, panicPass); !errors.Is(err, ErrNoStore) || errors.As(err, &we) {
		t.Fatalf("panic passphrase after the wipe: %v, want plain ErrNoStore", err)
	}
	if ok, err := Exists(f.dir); ok || err != nil {
		t.Fatalf("Exists after the wipe = %t, %v", ok, err)
	}
}

// TestAcceptance22PanicWipe is acceptance test 22(a).
func TestAcceptance22PanicWipe(t *testing.T) {
	for _, deleteAccount := range []bool{true, false} {
		t.Run(fmt.Sprint("deleteAccount=", deleteAccount), func(t *testing.T) {
			f := newPanicFixture(t, deleteAccount)
			s, err := Open(f.dir, panicPass)
			if s != nil {
				t.Fatal("the panic passphrase returned a store")
			}
			var we *WipedError
			if !errors.As(err, &we) || we.Reason != PanicPassphrase {
				t.Fatalf("panic unlock: %v, want a *WipedError", err)
			}
			if !errors.Is(err, ErrNoStore) || err.Error() != ErrNoStore.Error() {
				t.Fatalf("a panic unlock must read like a fresh install, got %q", err)
			}
			if we.DeleteAccount != deleteAccount {
				t.Fatalf("DeleteAccount = %t, want %t", we.DeleteAccount, deleteAccount)
			}
			if deleteAccount {
				a := we.Account
				if a == nil || a.ID != f.account.ID || a.Server != f.account.Server || a.DeviceID != f.account.DeviceID || string(a.Credential) != string(f.account.Credential) {
					t.Fatalf("account for deletion: %v", a)
				}
			} else if we.Account != nil {
				t.Fatal("the account was exposed although its deletion was not chosen")
			}
			f.checkErased(t)
			// A fresh store can be made in its place, and it is empty.
			s, err = Create(f.dir, pass, Options{KDF: tinyKDF})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			s.View(func(tx *Tx) error {
				if _, err := tx.Account(); !errors.Is(err, ErrNotFound) {
					t.Errorf("new store has an account: %v", err)
				}
				return nil
			})
		})
	}
}

func TestPanicAtChangePassphrase(t *testing.T) {
	f := newPanicFixture(t, true)
	s := reopen(t, f.dir)
	err := s.ChangePassphrase(panicPass, []byte("anything"))
	var we *WipedError
	if !errors.As(err, &we) || !we.DeleteAccount || we.Account == nil {
		t.Fatalf("panic passphrase at the change prompt: %v", err)
	}
	if err := s.View(func(*Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("store still usable after the wipe: %v", err)
	}
	f.checkErased(t)
}

func TestExplicitWipe(t *testing.T) {
	f := newPanicFixture(t, false)
	s := reopen(t, f.dir)
	if err := s.Wipe(); err != nil {
		t.Fatal(err)
	}
	f.checkErased(t)
}

func TestWipeKeepsFilesThatAreNotTheStores(t *testing.T) {
	f := newPanicFixture(t, false)
	other := filepath.Join(f.dir, "user-notes.txt")
	os.WriteFile(other, []byte("not sky's"), 0o600)
	if _, err := Open(f.dir, panicPass); !errors.Is(err, ErrNoStore) {
		t.Fatal(err)
	}
	if got := files(t, f.dir); len(got) != 1 || got[0] != "user-notes.txt" {
		t.Fatalf("left %v, want only the user's file", got)
	}
	os.Remove(other)
	os.Remove(f.dir) // the user's own directory, now empty
	f.checkErased(t)
}

func TestWipeAfterFailedUnlocks(t *testing.T) {
	dir, s := newTestStore(t, Options{MaxFailedUnlocks: 3})
	fill(t, s)
	s.Close()
	wrong := func(wantLeft int) {
		t.Helper()
		var wp *WrongPassphraseError
		if _, err := Open(dir, []byte("guess")); !errors.As(err, &wp) || wp.AttemptsLeft != wantLeft {
			t.Fatalf("wrong passphrase: %v, want %d attempts left", err, wantLeft)
		}
	}
	wrong(2)
	wrong(1)
	reopen(t, dir).Close() // a good unlock restarts the count
	wrong(2)
	wrong(1)
	_, err := Open(dir, []byte("guess"))
	var we *WipedError
	if !errors.As(err, &we) || we.Reason != TooManyFailedUnlocks || we.DeleteAccount || we.Account != nil {
		t.Fatalf("third failure: %v", err)
	}
	if _, err := Open(dir, pass); !errors.Is(err, ErrNoStore) {
		t.Fatalf("real passphrase after the wipe: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("store directory survived")
	}
}

func TestSetMaxFailedUnlocks(t *testing.T) {
	dir, s := newTestStore(t, Options{})
	if err := s.SetMaxFailedUnlocks(-1); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative limit: %v", err)
	}
	if err := s.SetMaxFailedUnlocks(1); err != nil || s.MaxFailedUnlocks() != 1 {
		t.Fatalf("set limit: %v", err)
	}
	s.Close()
	var we *WipedError
	if _, err := Open(dir, []byte("guess")); !errors.As(err, &we) {
		t.Fatalf("one failure with limit 1: %v", err)
	}
}

// Interrupted wipes (acceptance test 22(b)): a child process unlocks with
// the panic passphrase and is killed with SIGKILL at a stage of the wipe; the
// next start, whichever entry point it uses, finishes the wipe before
// anything else.

const helperEnv = "SKY_STORE_WIPE_HELPER"

// TestWipeHelperProcess is the child. It is not a test of its own.
func TestWipeHelperProcess(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("child process of TestAcceptance22InterruptedWipe")
	}
	dir, stageText, _ := strings.Cut(spec, "|")
	stage, _ := strconv.Atoi(stageText)
	testHookWipe = func(s wipeStage) {
		if int(s) == stage {
			fmt.Printf("stopped at stage %d\n", s)
			os.Stdout.Sync()
			select {} // wait for SIGKILL
		}
	}
	_, err := Open(dir, panicPass)
	fmt.Printf("finished: %v\n", err)
}

// killMidWipe runs the child until it reports stage, then kills it.
func killMidWipe(t *testing.T, dir string, stage wipeStage) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestWipeHelperProcess$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%d", helperEnv, dir, stage))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	want := fmt.Sprintf("stopped at stage %d", stage)
	for sc.Scan() {
		if sc.Text() == want {
			break
		}
		if strings.HasPrefix(sc.Text(), "finished") {
			t.Fatalf("child finished without stopping: %s", sc.Text())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v", err)
	}
}

func TestAcceptance22InterruptedWipe(t *testing.T) {
	type restart struct {
		name string
		run  func(t *testing.T, dir string)
	}
	openReal := restart{"Open with the real passphrase", func(t *testing.T, dir string) {
		if _, err := Open(dir, pass); !errors.Is(err, ErrNoStore) {
			t.Fatalf("got %v, want ErrNoStore", err)
		}
	}}
	exists := restart{"Exists", func(t *testing.T, dir string) {
		if ok, err := Exists(dir); ok || err != nil {
			t.Fatalf("Exists = %t, %v", ok, err)
		}
	}}
	create := restart{"Create", func(t *testing.T, dir string) {
		s, err := Create(dir, pass, Options{KDF: tinyKDF})
		if err != nil {
			t.Fatal(err)
		}
		err = s.View(func(tx *Tx) error {
			if ms, err := tx.Messages("x", 0, 0); err != nil || len(ms) != 0 {
				return fmt.Errorf("new store holds messages: %v", err)
			}
			_, err := tx.Account()
			if !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("new store holds an account: %v", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		s.Wipe() // leave nothing for checkErased
	}}
	for _, tc := range []struct {
		stage wipeStage
		// what must already be true when the child dies
		keyFileErased bool
		dbPresent     bool
		restarts      []restart
	}{
		{wipeMarked, false, true, []restart{openReal, exists, create}},
		{wipeKeysErased, true, true, []restart{openReal, exists, create}},
		{wipeFilesRemoved, true, false, []restart{openReal, exists, create}},
	} {
		for _, r := range tc.restarts {
			t.Run(fmt.Sprintf("stage %d then %s", tc.stage, r.name), func(t *testing.T) {
				f := newPanicFixture(t, true)
				killMidWipe(t, f.dir, tc.stage)

				raw, err := os.ReadFile(filepath.Join(f.dir, keyName))
				if err != nil || !keyfile.IsWipeMarked(raw) {
					t.Fatalf("after the kill the key file must carry the wipe marker: %v", err)
				}
				leftover := scan(t, f.dir, map[string][]byte{"real slot": f.needles["real slot"]})
				if erased := len(leftover) == 0; erased != tc.keyFileErased {
					t.Fatalf("key material erased = %t at this stage, want %t", erased, tc.keyFileErased)
				}
				if _, err := os.Stat(filepath.Join(f.dir, dbName)); (err == nil) != tc.dbPresent {
					t.Fatalf("database present = %t, want %t", err == nil, tc.dbPresent)
				}

				r.run(t, f.dir)
				f.checkErased(t)
			})
		}
	}
}

// TestAcceptance22SameKDFWork is the structural half of acceptance test
// 22(c): an unlock with the real, the panic and a wrong passphrase each does
// exactly one Argon2id derivation and two slot trials. BenchmarkOpen gives
// the timings.
func TestAcceptance22SameKDFWork(t *testing.T) {
	for _, tc := range []struct {
		name string
		pass []byte
	}{{"real", pass}, {"panic", panicPass}, {"wrong", []byte("wrong")}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newPanicFixture(t, true)
			d0, s0 := keyfile.Work()
			s, _ := Open(f.dir, tc.pass)
			d1, s1 := keyfile.Work()
			if s != nil {
				s.Close()
			}
			if d1-d0 != 1 || s1-s0 != 2 {
				t.Fatalf("%d derivations and %d slot trials, want 1 and 2", d1-d0, s1-s0)
			}
		})
	}
}

// TestPanicPayloadFollowsAccount: an account recorded (or changed) after the
// panic passphrase was set is what a panic unlock returns.
func TestPanicPayloadFollowsAccount(t *testing.T) {
	dir, s := newTestStore(t, Options{})
	if err := s.SetPanic(panicPass, true); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"first-id", "second-id"} {
		update(t, s, func(tx *Tx) error { return tx.SetAccount(Account{ID: id, Credential: Secret("pw-" + id)}) })
	}
	s.Close()
	_, err := Open(dir, panicPass)
	var we *WipedError
	if !errors.As(err, &we) || we.Account == nil || we.Account.ID != "second-id" || string(we.Account.Credential) != "pw-second-id" {
		t.Fatalf("panic unlock: %v", err)
	}
}

func TestFilePermissions(t *testing.T) {
	dir, s := newTestStore(t, Options{})
	fill(t, s)
	s.Close()
	s = reopen(t, dir) // a WAL made at a later open
	update(t, s, func(tx *Tx) error { return tx.PutContact(Contact{ID: "x"}) })
	if len(files(t, dir)) < 3 {
		t.Fatalf("expected key, database and WAL, found %v", files(t, dir))
	}
	for _, name := range append([]string{"."}, files(t, dir)...) {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v; only the owner may read the store", name, fi.Mode().Perm())
		}
	}
}

// TestPanicWipeList: the wipe list the user chose (with the account record
// it needs, though the account is not to be deleted) is what a panic
// unlock returns, beside the backup paths; without the choice, neither.
func TestPanicWipeList(t *testing.T) {
	list := []byte("signed list that removes the other devices")
	for _, wipeAll := range []bool{true, false} {
		dir, s := newTestStore(t, Options{})
		update(t, s, func(tx *Tx) error { return tx.SetAccount(Account{ID: "me", Credential: Secret("pw")}) })
		o := PanicOptions{}
		if wipeAll {
			o.WipeList = list
		}
		if err := s.SetPanicOptions(panicPass, o); err != nil {
			t.Fatal(err)
		}
		if got, err := s.PanicWipesDevices(); got != wipeAll || err != nil {
			t.Fatalf("PanicWipesDevices = %v, %v; want %v", got, err, wipeAll)
		}
		if n, err := s.SetBackups([]string{"/tmp/a.skybackup"}); n != 1 || err != nil {
			t.Fatalf("SetBackups = %d, %v", n, err)
		}
		s.Close()
		_, err := Open(dir, panicPass)
		var we *WipedError
		if !errors.As(err, &we) || we.DeleteAccount {
			t.Fatalf("panic unlock: %v", err)
		}
		if wipeAll && (!bytes.Equal(we.WipeList, list) || we.Account == nil || we.Account.ID != "me") {
			t.Fatalf("panic unlock with a wipe list gave %v", we)
		}
		if !wipeAll && (we.WipeList != nil || we.Account != nil) {
			t.Fatalf("panic unlock without a wipe list gave %v", we)
		}
	}
}
