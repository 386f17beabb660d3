package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/client/store/keyfile"
	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/blob/diskblob"
	"github.com/skymsg/sky/server/metrics"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/server/store/sqlite"
	"github.com/skymsg/sky/wire"
)

// TestSeizedBlobs is the seized-server audit for attachments: two people
// send each other files whose contents and names are canaries, then the
// server is seized: its database files, its blob directory, its log, its
// metrics and every byte of its traffic. No canary, content or name, may be
// in any of them; every blob file's length must be one of the padded blob
// lengths; and after the message TTL not one blob byte may remain.
func TestSeizedBlobs(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "skyd.db")
	st, err := sqlite.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	blobDir := filepath.Join(dir, "blobs")
	bs, err := diskblob.Open(blobDir)
	if err != nil {
		t.Fatal(err)
	}
	clock := servertest.NewClock(time.Now().UTC().Truncate(time.Hour).Add(17 * time.Minute))
	var logs lockedBuffer
	reg := metrics.NewRegistry()
	servertest.Certify(t, st)
	root, err := server.TrustRoot(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	trustRoot, err := client.ParseTrustRoot(base64.StdEncoding.EncodeToString(root.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	capture := NewCapture(ln)
	srv, err := servertest.StartOn(capture, server.Config{
		Store: st, Clock: clock, Metrics: reg, SweepInterval: time.Hour, Blobs: server.BlobConfig{Store: bs},
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(); st.Close() })

	opts := client.Options{KDF: keyfile.Params{Time: 1, MemoryKiB: 64, Threads: 1}, Clock: clock,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, ReceiptDelay: 100 * time.Millisecond}
	var people []*person
	for _, name := range []string{"alice", "bob"} {
		c, err := client.Register(context.Background(), filepath.Join(t.TempDir(), name), []byte("passphrase of "+name), srv.URL, trustRoot, srv.Code(t, clock.Now()), opts)
		if err != nil {
			t.Fatal(err)
		}
		people = append(people, startPerson(t, name, c))
	}
	alice, bob := people[0], people[1]
	var cs canaries
	var secrets []string
	files := t.TempDir()
	for i, n := range []int{0, 10, 5000, 300 << 10} {
		name := cs.next() + ".txt"
		c := cs.next()
		body := strings.Repeat(c+" ", n/len(c)+2)[:max(n, len(c))]
		secrets = append(secrets, strings.TrimSuffix(name, ".txt"), c)
		path := filepath.Join(files, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		from, to := alice, bob
		if i%2 == 1 {
			from, to = bob, alice
		}
		if _, _, err := from.c.SendFiles(context.Background(), to.id(), "", []string{path}, nil); err != nil {
			t.Fatal(err)
		}
		ms := to.await(t, 1)
		if len(ms[0].Attachments) != 1 {
			t.Fatalf("no attachment arrived: %v", ms[0])
		}
		out := filepath.Join(t.TempDir(), "got")
		if _, err := to.c.SaveAttachment(context.Background(), ms[0].Attachments[0].ID, out, false, nil); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(out); string(got) != body {
			t.Fatalf("file %d arrived changed", i)
		}
	}

	seized := map[string][]byte{"log": []byte(logs.String())}
	var mb bytes.Buffer
	reg.WriteTo(&mb)
	seized["metrics"] = mb.Bytes()
	for i, s := range capture.Streams() {
		seized["traffic "+string(rune('a'+i))+" from client"] = s.FromClient
		seized["traffic "+string(rune('a'+i))+" from server"] = s.FromServer
	}
	addDir := func(d, prefix string) {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(d, e.Name()))
			if err == nil {
				seized[prefix+e.Name()] = b
			}
		}
	}
	addDir(dir, "data/")
	addDir(blobDir, "blobs/")
	blobs := 0
	for name, b := range seized {
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q", name, s)
			}
		}
		if strings.HasPrefix(name, "blobs/") {
			blobs++
			if wire.BlobPaddedOf(int64(len(b))) == 0 {
				t.Errorf("blob %s is %d bytes, not a padded blob length", name, len(b))
			}
		}
	}
	if blobs != 4 {
		t.Fatalf("%d blob files for 4 files sent", blobs)
	}
	// Four files (two under 4 KiB, 5000 bytes, 300 KiB): three lengths.
	lengths := map[int]bool{}
	for name, b := range seized {
		if strings.HasPrefix(name, "blobs/") {
			lengths[len(b)] = true
		}
	}
	if len(lengths) != 3 {
		t.Errorf("blob lengths %v: want one for both small files, one for 5000 bytes, one for 300 KiB", lengths)
	}

	// After the TTL the sweep leaves nothing of any blob.
	clock.Advance(server.DefaultMessageTTL + time.Hour)
	if err := srv.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(blobDir)
	if len(left) != 0 {
		t.Fatalf("%d blob files left after the TTL", len(left))
	}
}
