package ws

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestUpgradeWithAnotherClient: a client from another implementation
// (coder/websocket) connects through Upgrade, exchanges messages, and sees
// our close status.
func TestUpgradeWithAnotherClient(t *testing.T) {
	done := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, rest, err := Upgrade(w, r)
		if err != nil {
			done <- err
			return
		}
		defer nc.Close()
		rd := NewReader(nc, rest, 1<<20, true)
		h, p, err := rd.Next()
		if err != nil || h.Op != OpBinary || string(p) != "ping" {
			done <- err
			return
		}
		out := AppendFrame(nil, OpBinary, []byte("pong"), nil)
		out = AppendClose(out, 4001, "replaced", nil)
		nc.Write(out)
		// The client answers our close frame with its own.
		h, p, err = rd.Next()
		if err == nil && h.Op == OpClose {
			code, _, perr := ParseClose(p)
			if perr != nil || code != 4001 {
				t.Errorf("client echoed close %d (%v)", code, perr)
			}
		}
		done <- err
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageBinary, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	typ, b, err := c.Read(ctx)
	if err != nil || typ != websocket.MessageBinary || string(b) != "pong" {
		t.Fatalf("read %v %q %v", typ, b, err)
	}
	_, _, err = c.Read(ctx)
	if websocket.CloseStatus(err) != 4001 {
		t.Fatalf("close status %v (%v), want 4001", websocket.CloseStatus(err), err)
	}
	if err := <-done; err != nil {
		t.Fatalf("server side: %v", err)
	}
}

// TestDialAnotherServer: Dial talks to a server from another
// implementation.
func TestDialAnotherServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		typ, b, err := c.Read(r.Context())
		if err != nil {
			return
		}
		c.Write(r.Context(), typ, append([]byte("echo "), b...))
		c.Close(websocket.StatusNormalClosure, "bye")
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, rest, err := Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/x?y=1", DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	mask := [4]byte{5, 6, 7, 8}
	if _, err := nc.Write(AppendFrame(nil, OpBinary, []byte("hi"), &mask)); err != nil {
		t.Fatal(err)
	}
	rd := NewReader(nc, rest, 1<<20, false)
	h, p, err := rd.Next()
	if err != nil || h.Op != OpBinary || string(p) != "echo hi" {
		t.Fatalf("got %+v %q %v", h, p, err)
	}
	h, p, err = rd.Next()
	if err != nil || h.Op != OpClose {
		t.Fatalf("expected a close frame, got %+v %v", h, err)
	}
	if code, reason, _ := ParseClose(p); code != StatusNormalClosure || reason != "bye" {
		t.Fatalf("close %d %q", code, reason)
	}
}

func TestUpgradeRefusals(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if nc, _, err := Upgrade(w, r); err == nil {
			nc.Close()
		}
	}))
	defer srv.Close()
	good := func() http.Header {
		return http.Header{
			"Connection":            {"keep-alive, Upgrade"},
			"Upgrade":               {"websocket"},
			"Sec-Websocket-Version": {"13"},
			"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
		}
	}
	cases := []struct {
		name   string
		method string
		edit   func(http.Header)
		status int
	}{
		{"post", http.MethodPost, func(http.Header) {}, http.StatusMethodNotAllowed},
		{"plain http", http.MethodGet, func(h http.Header) { h.Del("Upgrade") }, http.StatusUpgradeRequired},
		{"old version", http.MethodGet, func(h http.Header) { h.Set("Sec-Websocket-Version", "8") }, http.StatusBadRequest},
		{"short key", http.MethodGet, func(h http.Header) { h.Set("Sec-Websocket-Key", "c2hvcnQ=") }, http.StatusBadRequest},
		{"cross origin", http.MethodGet, func(h http.Header) { h.Set("Origin", "https://evil.example") }, http.StatusForbidden},
		{"same origin", http.MethodGet, func(h http.Header) { h.Set("Origin", srv.URL) }, http.StatusSwitchingProtocols},
		{"good", http.MethodGet, func(http.Header) {}, http.StatusSwitchingProtocols},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, srv.URL, nil)
		req.Header = good()
		tc.edit(req.Header)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
		if tc.status == http.StatusSwitchingProtocols && resp.Header.Get("Sec-Websocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
			// The RFC 6455 section 1.3 example.
			t.Errorf("%s: Sec-WebSocket-Accept %q", tc.name, resp.Header.Get("Sec-Websocket-Accept"))
		}
	}
}

func TestDialRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "at the connection limit", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	_, _, err := Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), DialOptions{})
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "connection limit") {
		t.Fatalf("dial to a refusing server: %v", err)
	}
	if _, _, err := Dial(context.Background(), "http://"+srv.Listener.Addr().String(), DialOptions{}); err == nil {
		t.Fatal("dial accepted an http:// URL")
	}
}
