package client

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/client/store/keyfile"
	"github.com/skymsg/sky/internal/testenv"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/servertest"
	serverstore "github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/server/store/sqlite"
)

// tinyKDF keeps tests fast; the store's own benchmarks measure the real cost.
var tinyKDF = keyfile.Params{Time: 1, MemoryKiB: 64, Threads: 1}

var pass = []byte("correct horse battery staple")

// newClock returns a manual clock for a test's clients.
func newClock() *servertest.Clock {
	return servertest.NewClock(time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC))
}

// skyd is a real server on a fixed loopback address that can be restarted
// on the same store and address.
type skyd struct {
	t     testing.TB
	addr  string
	st    serverstore.Store
	srv   *servertest.Server
	root  TrustRoot         // the operator's trust root, which clients pin
	trust *sealed.TrustRoot // its private half, for tests that play a server minting certificates
	cfg   server.Config     // the server's configuration but its store
}

func startSkyd(t testing.TB) *skyd {
	t.Helper()
	return startSkydConfig(t, server.Config{})
}

// startSkydConfig starts a server with cfg (for example other limits).
func startSkydConfig(t testing.TB, cfg server.Config) *skyd {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "skyd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	trust := servertest.Certify(t, st)
	s := &skyd{t: t, st: st, root: core.NewTrustRoot(trust.Public()), trust: trust, cfg: cfg}
	s.start(testenv.FreeAddr(t)) // kept through restarts: below the ephemeral ports
	t.Cleanup(func() { s.srv.Stop() })
	return s
}

func (s *skyd) start(addr string) {
	s.t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the old socket may linger briefly
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatal(err)
	}
	cfg := s.cfg
	cfg.Store = s.st
	srv, err := servertest.StartOn(ln, cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	s.srv, s.addr = srv, ln.Addr().String()
}

// restart stops the server and starts it again on the same store and port.
func (s *skyd) restart() {
	s.srv.Stop()
	s.start(s.addr)
}

func (s *skyd) url() string { return "ws://" + s.addr }

func (s *skyd) code() string { return s.srv.Code(s.t, time.Now()) }

// user is a test client and its directory.
type user struct {
	t   testing.TB
	dir string
	c   *Client
	sub *Subscription
	// stop ends Run
	stop   context.CancelFunc
	runErr chan error
	opts   Options
}

func testOptions(clk Clock) Options {
	o := Options{KDF: tinyKDF, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, GapTimeout: 2 * time.Second,
		ReceiptDelay: 20 * time.Millisecond}
	if clk != nil {
		o.Clock = clk
	}
	return o
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newUser creates a user on s and starts it.
func newUser(t testing.TB, s *skyd, opts Options) *user {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "home")
	c, err := Register(ctxT(t), dir, pass, s.url(), s.root, s.code(), opts)
	if err != nil {
		t.Fatal(err)
	}
	u := &user{t: t, dir: dir, c: c, opts: opts}
	t.Cleanup(func() { u.close() })
	u.start()
	return u
}

// start runs the client's connection and subscribes to its events.
func (u *user) start() {
	u.t.Helper()
	u.sub = u.c.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	u.stop, u.runErr = cancel, make(chan error, 1)
	go func() { u.runErr <- u.c.Run(ctx) }()
	if err := u.c.WaitConnected(ctxT(u.t)); err != nil {
		u.t.Fatal(err)
	}
}

// pause ends Run (the client goes offline) but keeps it open.
func (u *user) pause() {
	if u.stop != nil {
		u.stop()
		<-u.runErr
		u.stop = nil
	}
}

func (u *user) close() {
	u.pause()
	if u.c != nil {
		u.c.Close()
		u.c = nil
	}
}

// reopen closes the client and opens it again from its directory (a
// restart), then starts it.
func (u *user) reopen() {
	u.t.Helper()
	u.close()
	c, err := Open(ctxT(u.t), u.dir, pass, u.opts)
	if err != nil {
		u.t.Fatal(err)
	}
	u.c = c
	u.start()
}

// next waits for the next event matching want.
func next[E Event](t testing.TB, u *user, match func(E) bool) E {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-u.sub.Events():
			if !ok {
				t.Fatalf("%s: subscription closed", u.c.ID())
			}
			if testing.Verbose() {
				u.t.Logf("%s event %T %+v", u.c.ID(), ev, ev)
			}
			if e, ok := ev.(E); ok && (match == nil || match(e)) {
				return e
			}
		case <-timeout:
			var zero E
			t.Fatalf("%s: no %T within 15 s", u.c.ID(), zero)
			return zero
		}
	}
}

// texts waits for n incoming text messages and returns their texts.
func texts(t testing.TB, u *user, n int) []string {
	t.Helper()
	var out []string
	for len(out) < n {
		e := next(t, u, func(e *MessageEvent) bool { return e.Message.Kind == KindText && !e.Message.Outgoing })
		out = append(out, e.Message.Text)
	}
	return out
}

func (u *user) send(peer, text string) Message {
	u.t.Helper()
	m, err := u.c.Send(peer, text)
	if err != nil {
		u.t.Fatal(err)
	}
	return m
}

func (u *user) flush() {
	u.t.Helper()
	if err := u.c.Flush(ctxT(u.t)); err != nil {
		u.t.Fatal(err)
	}
}

func (u *user) outbox() []store.Outgoing {
	u.t.Helper()
	var items []store.Outgoing
	if err := u.c.core.View(func(tx *store.Tx) (err error) { items, err = tx.Outbox(); return }); err != nil {
		u.t.Fatal(err)
	}
	return items
}

func historyTexts(t testing.TB, c *Client, peer string) []string {
	t.Helper()
	h, err := c.History(peer, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range h {
		if m.Kind == KindText {
			dir := "<"
			if m.Outgoing {
				dir = ">"
			}
			out = append(out, dir+m.Text)
		}
	}
	return out
}

func eq(a, b []string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func shortCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
