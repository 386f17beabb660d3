package server_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/server/store/postgres"
	"github.com/skymsg/sky/server/store/sqlite"
	"github.com/skymsg/sky/wire"
)

var t0 = time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)

// backend opens the same store again each time it is called (a restart).
type backend func(t *testing.T) store.Store

// forEachBackend runs fn against SQLite and PostgreSQL.
func forEachBackend(t *testing.T, fn func(t *testing.T, open backend)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "sky.db")
		fn(t, func(t *testing.T) store.Store {
			s, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
	t.Run("postgres", func(t *testing.T) {
		url := postgres.TestDatabase(t)
		fn(t, func(t *testing.T) store.Store {
			s, err := postgres.Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// env is a running server with a manual clock.
type env struct {
	t     *testing.T
	srv   *servertest.Server
	clock *servertest.Clock
}

func newEnv(t *testing.T, cfg server.Config) *env {
	if cfg.IdleAfter == 0 {
		// Park quiet connections almost at once, so every test also
		// exercises handing sockets to the poller and back.
		cfg.IdleAfter = 5 * time.Millisecond
	}
	if cfg.Clock == nil {
		cfg.Clock = servertest.NewClock(t0)
	}
	return &env{t: t, srv: servertest.Start(t, cfg), clock: cfg.Clock.(*servertest.Clock)}
}

func (e *env) dial() *servertest.Client {
	e.t.Helper()
	c, err := servertest.Dial(ctxT(e.t), e.srv.URL)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	e.t.Cleanup(func() { c.CloseNow() })
	return c
}

// register makes a new account and returns its authenticated connection.
func (e *env) register() (*servertest.Client, *servertest.Device) {
	e.t.Helper()
	c := e.dial()
	d, err := c.Register(ctxT(e.t), e.srv.Code(e.t, e.clock.Now()))
	if err != nil {
		e.t.Fatalf("register: %v", err)
	}
	return c, d
}

// connect opens a new connection authenticated as d.
func (e *env) connect(d *servertest.Device) *servertest.Client {
	e.t.Helper()
	c := e.dial()
	if _, err := c.Authenticate(ctxT(e.t), d); err != nil {
		e.t.Fatalf("authenticate: %v", err)
	}
	return c
}

func mustSend(t *testing.T, c *servertest.Client, to *servertest.Device, content string) {
	t.Helper()
	if err := c.Send(ctxT(t), to.Account, to.ID, []byte(content)); err != nil {
		t.Fatalf("send %q: %v", content, err)
	}
}

func next(t *testing.T, c *servertest.Client) *wire.Envelope {
	t.Helper()
	e, err := c.Next(ctxT(t))
	if err != nil {
		t.Fatalf("waiting for a push: %v", err)
	}
	return e
}

// expectNext checks the next pushed envelope's content (sealed by
// servertest.Seal, as Client.Send sends it) and that it names no sender:
// every send is sealed. from is who sent it, for the test's reader.
func expectNext(t *testing.T, c *servertest.Client, from *servertest.Device, content string) *wire.Envelope {
	t.Helper()
	e := next(t, c)
	if got := servertest.Open(e.GetContent()); string(got) != content || len(e.ProtoReflect().GetUnknown()) != 0 || len(e.GetId()) != wire.MessageIDBytes {
		t.Fatalf("pushed %q with unknown fields %x (id %x), want %q (from %s/%d) with none", got, e.ProtoReflect().GetUnknown(), e.GetId(), content, from.Account, from.ID)
	}
	return e
}

// expectCode checks that err is a server error with code.
func expectCode(t *testing.T, err error, code wire.Code) *wire.Error {
	t.Helper()
	var we *wire.Error
	if !asWire(err, &we) || we.GetCode() != code {
		t.Fatalf("err = %v, want code %v", err, code)
	}
	if len(we.GetMessage()) < 10 {
		t.Fatalf("error %v has no actionable message", we)
	}
	return we
}
