package notes

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/client/store/keyfile"
)

var pass = []byte("correct horse battery staple")

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newVault(t *testing.T) (*Vault, *store.Store, *clock, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	st, err := store.Create(dir, pass, store.Options{KDF: keyfile.Params{Time: 1, MemoryKiB: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)}
	return New(st, clk.now), st, clk, dir
}

// TestVault: notes are added, listed newest-changed first, read, edited and
// deleted; they survive closing and reopening the store; and nothing of a
// title or text is readable in the store's files.
func TestVault(t *testing.T) {
	v, st, clk, dir := newVault(t)
	a, err := v.Add("Shopping canary-title-7f3a", "milk canary-text-91bc", 0)
	if err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(time.Minute)
	b, err := v.Add("Sources", "meet at noon", 0)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := v.List()
	if err != nil || len(ns) != 2 || ns[0].ID != b.ID || ns[1].ID != a.ID {
		t.Fatalf("List = %v, %v; want b then a", ns, err)
	}
	clk.t = clk.t.Add(time.Minute)
	if _, err := v.Edit(a.ID, "Shopping canary-title-7f3a", "milk, bread canary-text-91bc", 0); err != nil {
		t.Fatal(err)
	}
	ns, _ = v.List()
	if ns[0].ID != a.ID || ns[0].Text != "milk, bread canary-text-91bc" || !ns[0].Created.Equal(a.Created) || !ns[0].Updated.Equal(clk.t) {
		t.Fatalf("after Edit, List[0] = %+v", ns[0])
	}
	if err := v.Delete(b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Get(b.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a deleted note: %v, want ErrNotFound", err)
	}
	if err := v.Delete(b.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting twice: %v, want ErrNotFound", err)
	}
	st.Close()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, _ := os.ReadFile(p)
		for _, canary := range []string{"canary-title-7f3a", "canary-text-91bc", "meet at noon"} {
			if bytes.Contains(data, []byte(canary)) {
				t.Errorf("%s holds %q in the clear", p, canary)
			}
		}
		return nil
	})
	st2, err := store.Open(dir, pass)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	n, err := New(st2, clk.now).Get(a.ID)
	if err != nil || n.Title != "Shopping canary-title-7f3a" {
		t.Fatalf("after reopening, Get = %v, %v", n, err)
	}
}

// TestVaultTimer: a note with a timer disappears when it runs out (List and
// Get stop showing it at once; Expire deletes it), and an edit restarts the
// countdown.
func TestVaultTimer(t *testing.T) {
	v, _, clk, _ := newVault(t)
	n, err := v.Add("burn", "after reading", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !n.ExpiresAt.Equal(clk.t.Add(time.Minute)) {
		t.Fatalf("ExpiresAt = %v", n.ExpiresAt)
	}
	keep, _ := v.Add("keep", "", 0)
	clk.t = clk.t.Add(50 * time.Second)
	if _, err := v.Edit(n.ID, "burn", "after reading twice", time.Minute); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(50 * time.Second)
	if _, err := v.Get(n.ID); err != nil {
		t.Fatalf("an edited note expired on its old countdown: %v", err)
	}
	clk.t = clk.t.Add(11 * time.Second)
	if _, err := v.Get(n.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of an expired note: %v", err)
	}
	if ns, _ := v.List(); len(ns) != 1 || ns[0].ID != keep.ID {
		t.Fatalf("List after expiry = %v", ns)
	}
	if k, err := v.Expire(); k != 1 || err != nil {
		t.Fatalf("Expire = %d, %v; want 1", k, err)
	}
	if k, _ := v.Expire(); k != 0 {
		t.Fatalf("a second Expire deleted %d", k)
	}
}

// TestVaultLimits: titles, texts, timers and the number of notes are
// bounded; a malformed ID is simply not found.
func TestVaultLimits(t *testing.T) {
	v, _, _, _ := newVault(t)
	for _, tc := range []struct {
		title, text string
		timer       time.Duration
		want        string
	}{
		{"", "x", 0, "needs a title"},
		{"  ", "x", 0, "needs a title"},
		{strings.Repeat("t", MaxTitleBytes+1), "", 0, "title is longer"},
		{"t", strings.Repeat("x", MaxTextBytes+1), 0, "longer than 64 KiB"},
		{"t", "", time.Second, "timer"},
		{"t", "", MaxTimer + time.Second, "timer"},
		{"t\xff", "", 0, "UTF-8"},
	} {
		if _, err := v.Add(tc.title, tc.text, tc.timer); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Add(%.20q, %d bytes, %v) = %v, want %q", tc.title, len(tc.text), tc.timer, err, tc.want)
		}
	}
	for _, id := range []string{"", "zz", "00", strings.Repeat("0", 32), "../../etc"} {
		if _, err := v.Get(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", id, err)
		}
	}
	for i := range MaxNotes {
		if _, err := v.Add("n", "", 0); err != nil {
			t.Fatalf("note %d: %v", i, err)
		}
	}
	if _, err := v.Add("one too many", "", 0); !errors.Is(err, ErrTooMany) {
		t.Fatalf("note %d: %v, want ErrTooMany", MaxNotes+1, err)
	}
}

// TestNoteRecord: the record round-trips, and malformed ones are refused.
func TestNoteRecord(t *testing.T) {
	n := Note{Title: "t", Text: "x", Created: time.UnixMilli(1000), Updated: time.UnixMilli(2000), Timer: time.Minute}
	got, err := decodeNote(encodeNote(&n))
	if err != nil || got.Title != "t" || got.Text != "x" || !got.Updated.Equal(n.Updated) || got.Timer != time.Minute ||
		!got.ExpiresAt.Equal(n.Updated.Add(time.Minute)) {
		t.Fatalf("round trip = %+v, %v", got, err)
	}
	good := encodeNote(&n)
	for name, b := range map[string][]byte{
		"truncated":       good[:len(good)-1],
		"repeated field":  append(append([]byte{}, good...), good[:3]...),
		"unknown field":   append(append([]byte{}, good...), 0x30, 0x01),
		"wrong type":      {0x08, 0x01},
		"bad utf8":        {0x0a, 0x01, 0xff},
		"timer too long":  protowire.AppendVarint(append(append([]byte{}, good[:len(good)-4]...), 0x28), uint64(MaxTimer/time.Millisecond)+1),
		"timer too short": protowire.AppendVarint(append(append([]byte{}, good[:len(good)-4]...), 0x28), 1000),
	} {
		if _, err := decodeNote(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	if _, err := decodeIndex(make([]byte, idBytes+1)); err == nil {
		t.Error("an index of a ragged length decoded")
	}
}

func FuzzNoteRecord(f *testing.F) {
	f.Add(encodeNote(&Note{Title: "t", Text: "x", Timer: time.Minute}))
	f.Add([]byte{0x0a, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := decodeNote(b)
		if err != nil {
			return
		}
		if len(n.Title) > MaxTitleBytes || len(n.Text) > MaxTextBytes || (n.Timer != 0 && (n.Timer < MinTimer || n.Timer > MaxTimer)) {
			t.Fatalf("decoded a note beyond the vault's limits: %v", n)
		}
		again, err := decodeNote(encodeNote(&n))
		if err != nil || again.Title != n.Title || again.Text != n.Text || again.Timer != n.Timer {
			t.Fatalf("re-encoding changed the note: %v, %v", again, err)
		}
	})
}
