package netpoll

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

type chanWaker chan struct{}

func (c chanWaker) Wake() { c <- struct{}{} }

func newPoller(t *testing.T) *Poller {
	p, err := New()
	if errors.Is(err, ErrUnsupported) {
		t.Skip("no poller on this system")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// pair returns both ends of a loopback TCP connection.
func pair(t *testing.T) (server, client net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return server, client
}

func rawConn(t *testing.T, c net.Conn) syscall.RawConn {
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func expectWake(t *testing.T, w chanWaker, want bool) {
	t.Helper()
	select {
	case <-w:
		if !want {
			t.Fatal("woken without anything to read")
		}
	case <-time.After(300 * time.Millisecond):
		if want {
			t.Fatal("not woken although the socket is readable")
		}
	}
}

func TestWakeOnData(t *testing.T) {
	p := newPoller(t)
	srv, cli := pair(t)
	w := make(chanWaker, 4)
	var r Registration
	if err := p.Arm(&r, rawConn(t, srv), w); err != nil {
		t.Fatal(err)
	}
	expectWake(t, w, false)
	cli.Write([]byte("x"))
	expectWake(t, w, true)
	// One-shot: no second wake for the same (unread) data until re-armed.
	expectWake(t, w, false)
	// Re-arming with the data still unread wakes at once (level-triggered).
	if err := p.Arm(&r, rawConn(t, srv), w); err != nil {
		t.Fatal(err)
	}
	expectWake(t, w, true)
	// Read it; re-arm; quiet again; then a hang-up wakes.
	srv.Read(make([]byte, 8))
	if err := p.Arm(&r, rawConn(t, srv), w); err != nil {
		t.Fatal(err)
	}
	expectWake(t, w, false)
	if p.Len() != 1 {
		t.Fatalf("Len = %d, want 1", p.Len())
	}
	cli.Close()
	expectWake(t, w, true)
	if p.Len() != 0 {
		t.Fatalf("Len = %d after the wake, want 0", p.Len())
	}
}

func TestForget(t *testing.T) {
	p := newPoller(t)
	srv, cli := pair(t)
	w := make(chanWaker, 4)
	var r Registration
	if err := p.Arm(&r, rawConn(t, srv), w); err != nil {
		t.Fatal(err)
	}
	p.Forget(&r)
	cli.Write([]byte("x"))
	expectWake(t, w, false)
	if p.Len() != 0 {
		t.Fatalf("Len = %d after Forget", p.Len())
	}
}

func TestClose(t *testing.T) {
	p := newPoller(t)
	srv, cli := pair(t)
	w := make(chanWaker, 4)
	var r Registration
	if err := p.Arm(&r, rawConn(t, srv), w); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	cli.Write([]byte("x"))
	expectWake(t, w, false)
	var r2 Registration
	if err := p.Arm(&r2, rawConn(t, srv), w); !errors.Is(err, ErrClosed) {
		t.Fatalf("Arm after Close: %v", err)
	}
}

// TestManyConnections arms many sockets and wakes a few of them.
func TestManyConnections(t *testing.T) {
	p := newPoller(t)
	const n = 200
	srvs := make([]net.Conn, n)
	clis := make([]net.Conn, n)
	regs := make([]Registration, n)
	ws := make([]chanWaker, n)
	for i := range n {
		srvs[i], clis[i] = pair(t)
		ws[i] = make(chanWaker, 1)
		if err := p.Arm(&regs[i], rawConn(t, srvs[i]), ws[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i += 7 {
		clis[i].Write([]byte{1})
	}
	for i := 0; i < n; i += 7 {
		expectWake(t, ws[i], true)
	}
	for i := 1; i < n; i += 7 {
		select {
		case <-ws[i]:
			t.Fatalf("socket %d woken with nothing to read", i)
		default:
		}
	}
	if want := n - (n+6)/7; p.Len() != want {
		t.Fatalf("Len = %d, want %d", p.Len(), want)
	}
}
