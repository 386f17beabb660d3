// Package servertest runs a real skyd (server.Server on a loopback socket)
// for tests and benchmarks, and talks to it with a small wire-level client.
// The client is deliberately minimal: it speaks the protocol and nothing
// else (no encryption, no local store). The real client SDK lives elsewhere.
package servertest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/server/store/sqlite"
)

// Clock is a manual clock for server.Config.Clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Server is a server.Server listening on 127.0.0.1.
type Server struct {
	*server.Server
	Store store.Store
	URL   string // ws://127.0.0.1:port/v1/websocket
	Addr  string // 127.0.0.1:port
	http  *http.Server
	once  sync.Once
}

// Start starts a server with cfg on a fresh loopback port and stops it when
// the test ends. A nil cfg.Store gets a new SQLite file in a temp dir. It
// lets tests send sealed requests freely (Config.RequestRate and
// RequestInRate, unless cfg sets them), as Client.Send does; StartOn takes
// cfg as it is.
func Start(t testing.TB, cfg server.Config) *Server {
	t.Helper()
	cfg = Lenient(cfg)
	if cfg.Store == nil {
		st, err := sqlite.Open(context.Background(), t.TempDir()+"/sky.db")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		cfg.Store = st
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := StartOn(ln, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

// Lenient returns cfg with the limits on sealed requests (per sender and
// per recipient) lifted unless cfg sets them: tests send their messages as
// sealed requests (Client.Send) and would otherwise meet the limits meant
// for strangers' first messages.
func Lenient(cfg server.Config) server.Config {
	lots := server.Rate{Per: 1e9, Burst: 1 << 30}
	if cfg.RequestRate == (server.Rate{}) {
		cfg.RequestRate = lots
	}
	if cfg.RequestInRate == (server.Rate{}) {
		cfg.RequestInRate = lots
	}
	return cfg
}

// StartOn starts a server with cfg on ln.
func StartOn(ln net.Listener, cfg server.Config) (*Server, error) {
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	s := &Server{Server: srv, Store: cfg.Store, Addr: ln.Addr().String(), http: srv.HTTPServer()}
	s.URL = "ws://" + s.Addr + "/v1/websocket"
	go s.http.Serve(ln)
	return s, nil
}

// Stop closes the listener, then the server. It leaves the store open.
func (s *Server) Stop() {
	s.once.Do(func() {
		s.http.Close()
		s.Server.Close()
	})
}

// Certify gives the server in st a sealed-sender certificate under a fresh
// trust root, and returns the root. Running servers load it at their next
// sweep; servers started afterwards at once.
func Certify(t testing.TB, st store.Store) *sealed.TrustRoot {
	t.Helper()
	root := sealed.GenerateTrustRoot()
	if _, err := server.Certify(context.Background(), st, root, 0); err != nil {
		t.Fatal(err)
	}
	return root
}

// Code creates one activation code worth 90 days, valid for a week.
func (s *Server) Code(t testing.TB, now time.Time) string {
	t.Helper()
	codes, err := server.CreateCodes(context.Background(), s.Store, 1, 90*24*time.Hour, now.Add(7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return codes[0]
}

// IsClosed reports whether err says the connection is gone.
func IsClosed(err error) bool {
	return err != nil && (errors.Is(err, net.ErrClosed) || errors.Is(err, ErrClosed) || strings.Contains(err.Error(), "closed"))
}
