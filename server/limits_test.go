package server_test

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/metrics"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/wire"
)

func metricValue(t *testing.T, r *metrics.Registry, line string) bool {
	var b strings.Builder
	r.WriteTo(&b)
	return strings.Contains(b.String(), "\n"+line+"\n")
}

// TestSizeLimits is acceptance test 14.
func TestSizeLimits(t *testing.T) {
	e := newEnv(t, server.Config{QueueCap: 3})
	alice, _ := e.register()
	bob, b := e.register()

	// One byte over the message limit: TOO_LARGE, connection kept.
	err := alice.Send(ctxT(t), b.Account, 1, make([]byte, wire.MaxMessageBytes+1))
	expectCode(t, err, wire.Code_TOO_LARGE)
	// Exactly the limit is fine.
	if err := alice.Send(ctxT(t), b.Account, 1, make([]byte, wire.MaxMessageBytes)); err != nil {
		t.Fatalf("a message of exactly the limit: %v", err)
	}

	// 101 one-time prekeys in one upload: TOO_LARGE; 100 are fine.
	up := &wire.UploadPreKeys{}
	for i := range 101 {
		up.OneTimeEc = append(up.OneTimeEc, &wire.PreKey{Id: uint32(i), Key: []byte{5, 1}})
	}
	_, err = bob.Call(ctxT(t), &wire.Request{Op: &wire.Request_UploadPrekeys{UploadPrekeys: up}})
	expectCode(t, err, wire.Code_TOO_LARGE)
	up.OneTimeEc = up.OneTimeEc[:100]
	if _, err := bob.Call(ctxT(t), &wire.Request{Op: &wire.Request_UploadPrekeys{UploadPrekeys: up}}); err != nil {
		t.Fatalf("upload of 100: %v", err)
	}
	// An oversized key blob.
	big := &wire.UploadPreKeys{OneTimeEc: []*wire.PreKey{{Id: 1, Key: make([]byte, wire.MaxPreKeyBytes+1)}}}
	_, err = bob.Call(ctxT(t), &wire.Request{Op: &wire.Request_UploadPrekeys{UploadPrekeys: big}})
	expectCode(t, err, wire.Code_TOO_LARGE)

	// Queue cap (3): the 4th queued message is refused with QUEUE_FULL and
	// a retry hint (policy: reject, never drop what is queued).
	bob.Close()
	for i := range 2 { // one is already queued
		if err := alice.Send(ctxT(t), b.Account, 1, []byte{byte(i)}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	qf := expectCode(t, alice.Send(ctxT(t), b.Account, 1, []byte("over")), wire.Code_QUEUE_FULL)
	if qf.RetryAfter() <= 0 {
		t.Fatal("QUEUE_FULL without retry_after_ms")
	}

	// A frame over the frame limit is refused from its header: the
	// connection closes with 1009 (message too big).
	err = alice.WriteRaw(ctxT(t), websocket.MessageBinary, make([]byte, wire.MaxClientFrameBytes+1))
	<-alice.Done()
	if st := websocket.CloseStatus(alice.Err()); st != websocket.StatusMessageTooBig {
		t.Fatalf("oversized frame: close status %v (%v, write err %v), want 1009", st, alice.Err(), err)
	}
}

// TestBadInput: malformed frames get an error frame and a close code, and
// the server keeps serving everyone else.
func TestBadInput(t *testing.T) {
	e := newEnv(t, server.Config{})
	alice, _ := e.register()
	_, b := e.register()
	cases := []struct {
		name   string
		typ    websocket.MessageType
		data   []byte
		status websocket.StatusCode
	}{
		{"garbage", websocket.MessageBinary, []byte{0xff, 0x00, 0x13}, websocket.StatusUnsupportedData},
		{"text frame", websocket.MessageText, []byte("hello"), websocket.StatusUnsupportedData},
		{"empty frame", websocket.MessageBinary, nil, websocket.StatusUnsupportedData},
		{"a second hello", websocket.MessageBinary, mustEncode(&wire.Frame{Body: &wire.Frame_Hello{Hello: &wire.Hello{Versions: []uint32{1}}}}), websocket.StatusUnsupportedData},
	}
	for _, tc := range cases {
		c := e.dial()
		if err := c.WriteRaw(ctxT(t), tc.typ, tc.data); err != nil {
			t.Fatal(err)
		}
		<-c.Done()
		if st := websocket.CloseStatus(c.Err()); st != tc.status || c.Fatal().GetCode() != wire.Code_BAD_REQUEST {
			t.Errorf("%s: closed with %v and error frame %v", tc.name, st, c.Fatal())
		}
	}
	// A request without an operation gets an error response, not a close.
	c := e.dial()
	_, err := c.Call(ctxT(t), &wire.Request{})
	expectCode(t, err, wire.Code_BAD_REQUEST)
	// Others are still served.
	mustSend(t, alice, b, "still here")
}

func mustEncode(f *wire.Frame) []byte {
	b, err := wire.Encode(f)
	if err != nil {
		panic(err)
	}
	return b
}

func TestHandshake(t *testing.T) {
	e := newEnv(t, server.Config{HandshakeTimeout: 300 * time.Millisecond, MaxConnections: 3})
	// No common version.
	_, err := servertest.DialVersions(ctxT(t), e.srv.URL, []uint32{99})
	expectCode(t, err, wire.Code_UNSUPPORTED_VERSION)
	// Connected but never authenticating: told so and closed.
	c := e.dial()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("an unauthenticated connection stayed open")
	}
	if c.Fatal().GetCode() != wire.Code_UNAUTHENTICATED {
		t.Fatalf("closed with %v", c.Fatal())
	}
	// Slow headers: the HTTP server gives up before any WebSocket exists.
	conn, err := net.Dial("tcp", e.srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("GET /v1/websocket HTTP/1.1\r\nHost: x\r\n"))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	if _, err := bufio.NewReader(conn).ReadString('\n'); err == nil || time.Since(start) > 5*time.Second {
		// net/http answers a header timeout by closing (io.EOF).
		t.Fatalf("slow-header connection: err %v after %v", err, time.Since(start))
	}
}

func TestConnectionLimit(t *testing.T) {
	e := newEnv(t, server.Config{MaxConnections: 2})
	e.dial()
	e.dial()
	_, err := servertest.Dial(ctxT(t), e.srv.URL)
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("third connection: %v, want HTTP 503", err)
	}
	resp, err := http.Get("http://" + e.srv.Addr + wire.Path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("at the limit: %v, Retry-After %q", resp.Status, resp.Header.Get("Retry-After"))
	}
}

// TestSlowClient: a recipient that stops reading is dropped after the write
// timeout; its messages stay queued.
func TestSlowClient(t *testing.T) {
	reg := metrics.NewRegistry()
	e := newEnv(t, server.Config{WriteTimeout: 300 * time.Millisecond, Metrics: reg, SendRate: server.Rate{Per: 1e6, Burst: 1e6}, ConnRate: server.Rate{Per: 1e6, Burst: 1e6}})
	alice, _ := e.register()
	_, b := e.register()

	// A raw connection that authenticates and then never reads.
	ws, _, err := websocket.Dial(ctxT(t), e.srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(wire.MaxServerFrameBytes)
	ws.Write(ctxT(t), websocket.MessageBinary, mustEncode(&wire.Frame{Body: &wire.Frame_Hello{Hello: &wire.Hello{Versions: []uint32{1}}}}))
	_, data, err := ws.Read(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	f, _ := wire.Decode(data, wire.MaxServerFrameBytes)
	ch := f.GetWelcome().GetChallenge()
	sig := ed25519.Sign(b.Key, wire.AuthSignedData(ch, b.Account, 1))
	ws.Write(ctxT(t), websocket.MessageBinary, mustEncode(&wire.Frame{Body: &wire.Frame_Request{Request: &wire.Request{Id: 1,
		Op: &wire.Request_Authenticate{Authenticate: &wire.Authenticate{Account: b.Account, Device: 1, Signature: sig}}}}}))

	payload := bytes.Repeat([]byte{7}, 200<<10)
	deadline := time.Now().Add(15 * time.Second)
	for !metricValue(t, reg, "skyd_slow_clients_total 1") {
		if time.Now().After(deadline) {
			t.Fatal("a client that does not read was never dropped")
		}
		if err := alice.Send(ctxT(t), b.Account, 1, payload); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	// Alice is unaffected and Bob's messages wait in the queue.
	if n := pendingCount(t, e.srv.Store, b); n == 0 {
		t.Fatal("nothing queued for the dropped client")
	}
}
