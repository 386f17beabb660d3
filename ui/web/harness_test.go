package web

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/client/store/keyfile"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/blob/diskblob"
	"github.com/skymsg/sky/server/keydir"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/server/store/sqlite"
)

const pass = "correct horse battery staple"

// testOptions are fast clients: a cheap KDF and quick reconnects.
func testOptions() client.Options {
	return client.Options{KDF: keyfile.Params{Time: 1, MemoryKiB: 64, Threads: 1}, MinBackoff: 20 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond, GapTimeout: 2 * time.Second, ReceiptDelay: 20 * time.Millisecond, MaxFailedUnlocks: 5}
}

// world is a real skyd and the clients of a test.
type world struct {
	t     testing.TB
	skyd  *servertest.Server
	root  client.TrustRoot
	trust *sealed.TrustRoot // the root's private half, for tests playing a server that mints certificates
}

func newWorld(t testing.TB) *world {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "skyd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	trust := servertest.Certify(t, st)
	root, err := client.ParseTrustRoot(base64.StdEncoding.EncodeToString(trust.Public().Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := diskblob.Open(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	// A key directory publishing every 50 ms, so the page can show a
	// contact's key confirmed by it.
	if _, err := keydir.CertifyWithRoot(context.Background(), st, trust, 0); err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{Store: st, Blobs: server.BlobConfig{Store: blobs}, KeyDir: server.KeyDirConfig{Interval: 50 * time.Millisecond}}
	return &world{t: t, skyd: servertest.Start(t, cfg), root: root, trust: trust}
}

// register makes an account in a fresh directory and returns it closed.
func (w *world) register() (dir, id string) {
	w.t.Helper()
	dir = filepath.Join(w.t.TempDir(), "store")
	c, err := client.Register(context.Background(), dir, []byte(pass), w.skyd.URL, w.root, w.skyd.Code(w.t, time.Now()), testOptions())
	if err != nil {
		w.t.Fatal(err)
	}
	id = c.ID()
	c.Close()
	return dir, id
}

// peer is a running client of the test (the other side of the chat).
func (w *world) peer() *client.Client {
	w.t.Helper()
	dir, _ := w.register()
	c, err := client.Open(context.Background(), dir, []byte(pass), testOptions())
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		c.Run(ctx)
		close(done)
	}()
	w.t.Cleanup(func() {
		cancel()
		<-done
		c.Close()
	})
	return c
}

// testHost is sky web's host for tests: the same SDK unlock, with a
// connection run while unlocked.
type testHost struct {
	dir    string
	mu     sync.Mutex
	c      *client.Client
	cancel context.CancelFunc
	done   chan struct{}
}

func (h *testHost) HasAccount() bool {
	ok, _ := storeExists(h.dir)
	return ok
}

func (h *testHost) Unlock(p []byte) (*client.Client, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.c != nil {
		return nil, errors.New("unlocked already")
	}
	c, err := client.Open(context.Background(), h.dir, p, testOptions())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.c, h.cancel, h.done = c, cancel, make(chan struct{})
	go func(done chan struct{}) {
		c.Run(ctx)
		close(done)
	}(h.done)
	return c, nil
}

func (h *testHost) Lock() {
	h.mu.Lock()
	c, cancel, done := h.c, h.cancel, h.done
	h.c = nil
	h.mu.Unlock()
	if c != nil {
		cancel()
		<-done
		c.Close()
	}
}

func (h *testHost) Client() *client.Client {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.c
}

// serveWeb serves the web UI for the account in dir on a loopback port.
func serveWeb(t testing.TB, dir string, opts Options) (*Server, *testHost) {
	t.Helper()
	h := &testHost{dir: dir}
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Host = h
	s, err := New(ln, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.Serve(ctx, ln)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		h.Lock()
	})
	return s, h
}

// base is the server's origin, without the secret.
func (s *Server) base() string { return s.origin }

// portOf returns the port of the server's origin.
func portOf(s *Server) string {
	_, port, _ := net.SplitHostPort(s.origin[len("http://"):])
	return port
}
