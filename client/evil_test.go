package client

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/coder/websocket"

	"github.com/skymsg/sky/wire"
)

// evil is the evil-server test double of acceptance tests 7, 9 and 10: a
// WebSocket man in the middle in front of a real skyd that sees and can
// rewrite, drop, replay, reorder and inject every frame. To the client it is
// the server; whatever it does is what a compromised skyd could do.
type evil struct {
	t    testing.TB
	up   string // the real server's ws URL
	http *http.Server
	addr string

	mu sync.Mutex
	// toClient rewrites each frame the server sends a client (account is
	// the connection's authenticated account, "" before); it returns the
	// frames to deliver instead (none: dropped).
	toClient func(account string, f *wire.Frame) []*wire.Frame
	// toServer does the same for client frames.
	toServer func(account string, f *wire.Frame) []*wire.Frame
	conns    map[string]*evilConn // by account
}

type evilConn struct {
	account string
	client  *websocket.Conn
	wmu     sync.Mutex
}

// inject sends a frame to the client as if the server had.
func (c *evilConn) inject(f *wire.Frame) error {
	b, err := wire.Encode(f)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.client.Write(context.Background(), websocket.MessageBinary, b)
}

func startEvil(t testing.TB, s *skyd) *evil {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &evil{t: t, up: "ws://" + s.addr + wire.Path, addr: ln.Addr().String(), conns: map[string]*evilConn{}}
	e.http = &http.Server{Handler: http.HandlerFunc(e.serve)}
	go e.http.Serve(ln)
	t.Cleanup(func() { e.http.Close() })
	return e
}

func (e *evil) url() string { return "ws://" + e.addr }

func (e *evil) set(toClient, toServer func(string, *wire.Frame) []*wire.Frame) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.toClient, e.toServer = toClient, toServer
}

func (e *evil) conn(account string) *evilConn {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.conns[account]
}

func (e *evil) serve(w http.ResponseWriter, r *http.Request) {
	cws, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sws, _, err := websocket.Dial(ctx, e.up, &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		cws.CloseNow()
		return
	}
	cws.SetReadLimit(wire.MaxServerFrameBytes)
	sws.SetReadLimit(wire.MaxServerFrameBytes)
	ec := &evilConn{client: cws}
	var acct string
	var amu sync.Mutex
	account := func() string { amu.Lock(); defer amu.Unlock(); return acct }
	done := make(chan struct{}, 2)
	// client → server
	go func() {
		defer func() { done <- struct{}{} }()
		for {
			_, b, err := cws.Read(ctx)
			if err != nil {
				return
			}
			f, err := wire.Decode(b, wire.MaxClientFrameBytes)
			if err != nil {
				return
			}
			if a := f.GetRequest().GetAuthenticate(); a != nil {
				amu.Lock()
				acct = a.GetAccount()
				amu.Unlock()
				e.mu.Lock()
				ec.account = acct
				e.conns[acct] = ec
				e.mu.Unlock()
			}
			out := []*wire.Frame{f}
			e.mu.Lock()
			hook := e.toServer
			e.mu.Unlock()
			if hook != nil {
				out = hook(account(), f)
			}
			for _, f := range out {
				b, _ := wire.Encode(f)
				if sws.Write(ctx, websocket.MessageBinary, b) != nil {
					return
				}
			}
		}
	}()
	// server → client
	go func() {
		defer func() { done <- struct{}{} }()
		for {
			_, b, err := sws.Read(ctx)
			if err != nil {
				return
			}
			f, err := wire.Decode(b, wire.MaxServerFrameBytes)
			if err != nil {
				return
			}
			out := []*wire.Frame{f}
			e.mu.Lock()
			hook := e.toClient
			e.mu.Unlock()
			if hook != nil {
				out = hook(account(), f)
			}
			for _, f := range out {
				if ec.inject(f) != nil {
					return
				}
			}
		}
	}()
	<-done
	cws.CloseNow()
	sws.CloseNow()
}

// pushed returns the envelopes of a Push frame, or nil.
func pushed(f *wire.Frame) []*wire.Envelope { return f.GetPush().GetEnvelopes() }

func pushFrame(envs ...*wire.Envelope) *wire.Frame {
	return &wire.Frame{Body: &wire.Frame_Push{Push: &wire.Push{Envelopes: envs}}}
}

// newUserAt registers a user whose server URL is url (for example the evil
// proxy's), with the activation code from s.
func newUserAt(t testing.TB, s *skyd, url string, opts Options) *user {
	t.Helper()
	dir := t.TempDir() + "/home"
	c, err := Register(ctxT(t), dir, pass, url, s.root, s.code(), opts)
	if err != nil {
		t.Fatal(err)
	}
	u := &user{t: t, dir: dir, c: c, opts: opts}
	t.Cleanup(func() { u.close() })
	u.start()
	return u
}
