package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/ws"
	"github.com/skymsg/sky/wire"
)

// rawDial opens a WebSocket connection from the loopback address src
// (127.0.0.0/8 is all loopback on Linux), with nothing sent yet.
func rawDial(ctx context.Context, url, src string) (net.Conn, error) {
	nc, _, err := ws.Dial(ctx, url, ws.DialOptions{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}})
	return nc, err
}

var testMask = [4]byte{1, 2, 3, 4}

// rawFrame is f as a masked client frame.
func rawFrame(f *wire.Frame) []byte {
	return ws.AppendFrame(nil, ws.OpBinary, mustEncode(f), &testMask)
}

var anonHello = rawFrame(&wire.Frame{Body: &wire.Frame_Hello{Hello: &wire.Hello{Versions: []uint32{wire.Version}, Anonymous: true}}})

// closedWithin reports whether the server closes nc within d (reading and
// dropping whatever it sends first).
func closedWithin(nc net.Conn, d time.Duration) bool {
	nc.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, nc)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestHostileConnectionsBounded: connections that never authenticate (idle
// anonymous sockets, unfinished frames announced as 270,000 bytes, a
// pre-authentication frame announced as large) cost bounded memory, and a
// well-behaved client still connects, registers and sends with the server
// at its connection limit. (Before the fix each unfinished frame cost
// its announced length at once, and a full server answered 503.)
func TestHostileConnectionsBounded(t *testing.T) {
	const (
		hostile   = 240
		perSource = 80
		budget    = 4 << 20
	)
	e := newEnv(t, server.Config{
		MaxConnections:               hostile,
		MaxUnauthenticatedPerAddress: perSource,
		FrameMemory:                  budget,
		HandshakeTimeout:             time.Minute,
	})
	ctx := ctxT(t)
	before := heapInUse()
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	sources := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}
	for i := range hostile {
		nc, err := rawDial(ctx, e.srv.URL, sources[i%len(sources)])
		if err != nil {
			t.Fatalf("hostile connection %d: %v", i, err)
		}
		conns = append(conns, nc)
		switch i % 3 {
		case 0: // anonymous, then most of a 270,000-byte frame
			nc.Write(anonHello)
			hdr := ws.AppendHeader(nil, true, ws.OpBinary, 270_000, &testMask)
			nc.Write(append(hdr, make([]byte, 100_000)...))
		case 1: // anonymous and idle
			nc.Write(anonHello)
		case 2: // before any Hello, the header of a 200,000-byte frame
			nc.Write(ws.AppendHeader(nil, true, ws.OpBinary, 200_000, &testMask))
		}
	}
	time.Sleep(500 * time.Millisecond) // let the server read what was sent
	held := server.FrameBytesHeld(e.srv.Server)
	perConn := (int64(heapInUse()) - int64(before)) / hostile
	t.Logf("%d hostile connections: %d bytes charged to the frame budget, heap %+d bytes per connection", hostile, held, perConn)
	if held > budget/4 {
		t.Errorf("anonymous frames hold %d bytes, over their quarter of the %d-byte budget", held, budget)
	}
	if perConn > 48<<10 {
		t.Errorf("each hostile connection costs %d bytes of heap", perConn)
	}

	// The server is at its connection limit; wait until the hostile ones
	// have had their chance to authenticate, then a newcomer gets in.
	time.Sleep(time.Second)
	alice, _ := e.register()
	_, b := e.register()
	mustSend(t, alice, b, "still served")
}

// TestFrameDeadline: a frame trickled in one byte at a time is dropped when
// the frame timeout has passed since its first byte, though every byte
// came well within the timeout of the one before.
func TestFrameDeadline(t *testing.T) {
	e := newEnv(t, server.Config{FrameTimeout: time.Second})
	c, _ := e.register()
	c.Close()
	nc, err := rawDial(ctxT(t), e.srv.URL, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write(rawFrame(&wire.Frame{Body: &wire.Frame_Hello{Hello: &wire.Hello{Versions: []uint32{wire.Version}}}}))
	frame := ws.AppendHeader(nil, true, ws.OpBinary, 1000, &testMask)
	start := time.Now()
	for i := 0; time.Since(start) < 4*time.Second; i++ {
		if _, err := nc.Write(frame[i%len(frame) : i%len(frame)+1]); err != nil {
			break
		}
		if closedWithin(nc, 200*time.Millisecond) {
			if el := time.Since(start); el > 2500*time.Millisecond {
				t.Fatalf("closed only after %v", el)
			}
			return
		}
	}
	t.Fatalf("a frame trickled for %v is still being read", time.Since(start))
}

// TestPreAuthFrameLimit: before authentication a frame may be only a few
// KiB; a larger one is refused from its header.
func TestPreAuthFrameLimit(t *testing.T) {
	e := newEnv(t, server.Config{})
	nc, err := rawDial(ctxT(t), e.srv.URL, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write(ws.AppendHeader(nil, true, ws.OpBinary, 64<<10, &testMask))
	if !closedWithin(nc, 5*time.Second) {
		t.Fatal("a 64 KiB frame before authentication was not refused")
	}
	// After authentication the full limit applies (TestSizeLimits).
	alice, _ := e.register()
	_, b := e.register()
	if err := alice.Send(ctxT(t), b.Account, 1, make([]byte, 200<<10)); err != nil {
		t.Fatalf("a 200 KiB send after authentication: %v", err)
	}
}

// TestUnauthenticatedPerAddress: one address holds at most the configured
// number of unauthenticated connections; others are not affected, and a
// connection that authenticates no longer counts.
func TestUnauthenticatedPerAddress(t *testing.T) {
	e := newEnv(t, server.Config{MaxUnauthenticatedPerAddress: 3})
	ctx := ctxT(t)
	var open []net.Conn
	for i := range 3 {
		nc, err := rawDial(ctx, e.srv.URL, "127.0.0.2")
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		defer nc.Close()
		nc.Write(anonHello)
		open = append(open, nc)
	}
	if _, err := rawDial(ctx, e.srv.URL, "127.0.0.2"); err == nil {
		t.Fatal("a 4th unauthenticated connection from one address was accepted")
	} else if !strings.Contains(err.Error(), "429") {
		t.Fatalf("refused with %v, want HTTP 429", err)
	}
	// Another address is not affected.
	for range 4 {
		e.register()
	}
	// A connection that closes no longer counts.
	open[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		nc, err := rawDial(ctx, e.srv.URL, "127.0.0.2")
		if err == nil {
			nc.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a closed connection still counts: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
