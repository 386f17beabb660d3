package client

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/skymsg/sky/client/attach"
	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/blob/diskblob"
	"github.com/skymsg/sky/server/servertest"
)

// attachSkyd starts a server that takes attachments, with its blob
// directory.
func attachSkyd(t *testing.T) (*skyd, string) {
	dir := filepath.Join(t.TempDir(), "blobs")
	bs, err := diskblob.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return startSkydConfig(t, server.Config{Blobs: server.BlobConfig{Store: bs}}), dir
}

func randomFile(t *testing.T, name string, n int) (string, []byte) {
	data := make([]byte, n)
	rand.Read(data)
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, data
}

// gotFile waits for a text with attachments and saves the first.
func gotFile(t *testing.T, u *user) (Message, []byte) {
	t.Helper()
	e := next(t, u, func(e *MessageEvent) bool { return len(e.Message.Attachments) > 0 })
	out := filepath.Join(t.TempDir(), "saved")
	if _, err := u.c.SaveAttachment(ctxT(t), e.Message.Attachments[0].ID, out, false, nil); err != nil {
		t.Fatalf("%s saving %s: %v", u.c.ID(), e.Message.Attachments[0].ID, err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return e.Message, b
}

// TestAttachments: a file to a contact, then to a group (uploaded once for
// all its members), arrive bit for bit with their caption, name and size;
// history names them; a file over the server's limit is refused before it
// is sent.
func TestAttachments(t *testing.T) {
	s, blobs := attachSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	carol := newUser(t, s, testOptions(nil))
	a, b, c := alice.c.ID(), bob.c.ID(), carol.c.ID()

	path, data := randomFile(t, "shipment.bin", 1<<20)
	sent, preps, err := alice.c.SendFiles(ctxT(t), b, "loaded at 6", []string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sent.Attachments) != 1 || !preps[0].AsIs || sent.Text != "loaded at 6" {
		t.Fatalf("sent %v, attachments %v", sent, sent.Attachments)
	}
	m, got := gotFile(t, bob)
	at := m.Attachments[0]
	if !bytes.Equal(got, data) || m.Text != "loaded at 6" || at.Name != "shipment.bin" || at.Size != 1<<20 || at.Type != "application/octet-stream" || m.From != a {
		t.Fatalf("bob got %d bytes, text %q, attachment %+v", len(got), m.Text, at)
	}
	hist, err := bob.c.History(a, 10)
	if err != nil || len(hist) == 0 || len(hist[len(hist)-1].Attachments) != 1 {
		t.Fatalf("history: %v, %v", hist, err)
	}
	// The sender keeps its copy too.
	if _, err := alice.c.SaveAttachment(ctxT(t), sent.Attachments[0].ID, filepath.Join(t.TempDir(), "mine"), false, nil); err != nil {
		t.Fatal(err)
	}

	g, err := alice.c.CreateGroup("Dock", []string{b, c})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadDir(blobs)
	gpath, gdata := randomFile(t, "manifest.pdf", 200<<10)
	if _, _, err := alice.c.SendGroupFiles(ctxT(t), g.ID, "", []string{gpath}, nil); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadDir(blobs)
	if len(after) != len(before)+1 {
		t.Fatalf("a group send made %d blobs; want one for all members", len(after)-len(before))
	}
	for _, u := range []*user{bob, carol} {
		m, got := gotFile(t, u)
		if !bytes.Equal(got, gdata) || m.Group != g.ID {
			t.Fatalf("%s: %d bytes in %q", u.c.ID(), len(got), m.Group)
		}
	}
	// A save never overwrites.
	if _, err := bob.c.SaveAttachment(ctxT(t), at.ID, path, false, nil); !errors.Is(err, attach.ErrExists) {
		t.Fatalf("save over an existing file: %v", err)
	}
}

// TestAttachmentsExpire: when a message with a file disappears, its key
// goes with it and Expire removes the device's blob of it, on both sides;
// no byte of the file's content is left in either data directory.
func TestAttachmentsExpire(t *testing.T) {
	s, _ := attachSkyd(t)
	clk := newClock()
	alice := newUser(t, s, testOptions(clk))
	bob := newUser(t, s, testOptions(clk))
	canary := []byte("canary-in-an-attachment-7f3e1b")
	path := filepath.Join(t.TempDir(), "note.txt")
	os.WriteFile(path, bytes.Repeat(canary, 100), 0o600)
	if _, _, err := alice.c.SendFiles(ctxT(t), bob.c.ID(), "", []string{path}, nil); err != nil {
		t.Fatal(err)
	}
	m, got := gotFile(t, bob)
	if !bytes.Contains(got, canary) {
		t.Fatal("the file did not arrive")
	}
	if _, err := bob.c.MarkRead(m.LocalID); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*user{alice, bob} {
		if blobs, _ := os.ReadDir(filepath.Join(u.dir, "attachments")); len(blobs) != 1 {
			t.Fatalf("%s keeps %d blobs, want 1", u.c.ID(), len(blobs))
		}
	}
	clk.Advance(time.Hour)
	for _, u := range []*user{alice, bob} {
		if _, err := u.c.Expire(); err != nil {
			t.Fatal(err)
		}
		if blobs, _ := os.ReadDir(filepath.Join(u.dir, "attachments")); len(blobs) != 0 {
			t.Fatalf("%s keeps %d blobs after its message expired", u.c.ID(), len(blobs))
		}
		if _, err := u.c.SaveAttachment(ctxT(t), m.Attachments[0].ID, filepath.Join(t.TempDir(), "x"), false, nil); !errors.Is(err, attach.ErrNoAttachment) {
			t.Fatalf("saving an expired attachment: %v", err)
		}
		filepath.Walk(u.dir, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode().IsRegular() {
				if b, _ := os.ReadFile(p); bytes.Contains(b, canary) {
					t.Errorf("%s holds the file's content", p)
				}
			}
			return nil
		})
	}
}

// TestAttachmentsWiped: a wipe (as the panic passphrase makes) leaves no
// attachment blob behind: the directory is gone with the store.
func TestAttachmentsWiped(t *testing.T) {
	s, _ := attachSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	path, _ := randomFile(t, "f.bin", 5000)
	if _, _, err := alice.c.SendFiles(ctxT(t), bob.c.ID(), "", []string{path}, nil); err != nil {
		t.Fatal(err)
	}
	if blobs, _ := os.ReadDir(filepath.Join(alice.dir, "attachments")); len(blobs) != 1 {
		t.Fatalf("%d blobs before the wipe", len(blobs))
	}
	alice.pause()
	if err := alice.c.Wipe(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(alice.dir, "attachments")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the attachments directory survived the wipe: %v", err)
	}
}

// TestAutoDownload: attachments up to the automatic-download size arrive
// on the device by themselves and can be saved after the server deleted
// their blobs with the message TTL; a larger one is announced as not
// downloaded, and once the TTL passed it is gone (ErrMissing).
func TestAutoDownload(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	bs, err := diskblob.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	clk := servertest.NewClock(time.Now()) // the server's alone: codes are made at the real time
	s := startSkydConfig(t, server.Config{Clock: clk, Blobs: server.BlobConfig{Store: bs}})
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	if n, err := bob.c.AutoDownload(); err != nil || n != attach.DefaultAutoDownload {
		t.Fatalf("default automatic-download size %d, %v", n, err)
	}
	if err := bob.c.SetAutoDownload(64 << 10); err != nil {
		t.Fatal(err)
	}
	if err := bob.c.AddContact(alice.c.ID(), "Alice"); err != nil { // else her message is a request
		t.Fatal(err)
	}
	small, sdata := randomFile(t, "small.bin", 10<<10)
	big, _ := randomFile(t, "big.bin", 100<<10)
	if _, _, err := alice.c.SendFiles(ctxT(t), bob.c.ID(), "two", []string{small, big}, nil); err != nil {
		t.Fatal(err)
	}
	got := map[string]error{}
	for len(got) < 2 {
		e := next(t, bob, func(*AttachmentEvent) bool { return true })
		got[e.Attachment.Name] = e.Err
	}
	if got["small.bin"] != nil || !errors.Is(got["big.bin"], attach.ErrOverAutoSize) {
		t.Fatalf("events: %v", got)
	}
	// A stranger's file waits for the user, whatever its size.
	carol := newUser(t, s, testOptions(nil))
	if _, _, err := carol.c.SendFiles(ctxT(t), bob.c.ID(), "", []string{small}, nil); err != nil {
		t.Fatal(err)
	}
	if e := next(t, bob, func(*AttachmentEvent) bool { return true }); !errors.Is(e.Err, attach.ErrFromRequest) || e.Conversation != carol.c.ID() {
		t.Fatalf("a request's file: %v in %s", e.Err, e.Conversation)
	}
	clk.Advance(49 * time.Hour)
	if err := s.srv.Sweep(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	ms, err := bob.c.History(alice.c.ID(), 1)
	if err != nil || len(ms) != 1 || len(ms[0].Attachments) != 2 {
		t.Fatalf("history %v, %v", ms, err)
	}
	out := filepath.Join(t.TempDir(), "small")
	if _, err := bob.c.SaveAttachment(ctxT(t), ms[0].Attachments[0].ID, out, false, nil); err != nil {
		t.Fatalf("saving the downloaded file after the TTL: %v", err)
	}
	if b, _ := os.ReadFile(out); !bytes.Equal(b, sdata) {
		t.Fatal("the saved file differs")
	}
	if _, err := bob.c.SaveAttachment(ctxT(t), ms[0].Attachments[1].ID, t.TempDir(), false, nil); !errors.Is(err, attach.ErrMissing) {
		t.Fatalf("saving the file not downloaded after the TTL: %v", err)
	}
}

// TestWipeDuringDownload: a wipe while a file downloads by itself waits
// for the download to stop and leaves no attachment file behind.
func TestWipeDuringDownload(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	bs, err := diskblob.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	// 512 KiB at 1 MiB/s after a burst of a chunk: the download takes a while.
	s := startSkydConfig(t, server.Config{Blobs: server.BlobConfig{Store: bs, TransferRate: server.Rate{Per: 1 << 20, Burst: 256 << 10}}})
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	if err := bob.c.AddContact(alice.c.ID(), "Alice"); err != nil {
		t.Fatal(err)
	}
	path, _ := randomFile(t, "slow.bin", 512<<10)
	if _, _, err := alice.c.SendFiles(ctxT(t), bob.c.ID(), "", []string{path}, nil); err != nil {
		t.Fatal(err)
	}
	attDir := filepath.Join(bob.dir, "attachments")
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if es, _ := os.ReadDir(attDir); len(es) > 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the download never started")
		}
	}
	if err := bob.c.Wipe(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // anything still writing would show now
	if _, err := os.Stat(attDir); !os.IsNotExist(err) {
		es, _ := os.ReadDir(attDir)
		t.Fatalf("after the wipe: %v, %d files", err, len(es))
	}
}
