package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/skymsg/sky/server/ws"
	"github.com/skymsg/sky/wire"
)

// Idle holds authenticated connections that send nothing, the way most of
// a messenger's clients sit most of the time. Each holds only its socket:
// no goroutine and no buffer on the load generator's side either.
type Idle struct {
	conns []net.Conn
}

// OpenIdle connects and authenticates one connection per device, up to
// concurrency at a time. progress, if set, is called after each.
func OpenIdle(ctx context.Context, d *Dialer, devs []Device, concurrency int, progress func()) (*Idle, error) {
	idle := &Idle{conns: make([]net.Conn, len(devs))}
	err := forEach(ctx, len(devs), concurrency, progress, func(i int) error {
		c, err := dialAuth(ctx, d, devs[i])
		if err != nil {
			return fmt.Errorf("idle connection %d: %w", i, err)
		}
		idle.conns[i] = c.nc
		return nil
	})
	if err != nil {
		idle.Close()
		return nil, err
	}
	return idle, ctx.Err()
}

// Len returns how many connections were opened.
func (i *Idle) Len() int { return len(i.conns) }

// Alive returns how many connections the server still holds open. It
// looks at each socket without reading from it or waiting: a connection is
// gone when the server closed it (end of stream, an error, or a close frame
// waiting to be read).
func (i *Idle) Alive() int {
	n := 0
	for _, c := range i.conns {
		if c != nil && alive(c) {
			n++
		}
	}
	return n
}

// closing reports whether b, the start of what the server sent, holds a
// close frame.
func closing(b []byte) bool {
	for len(b) > 0 {
		h, n, err := ws.ParseHeader(b, wire.MaxServerFrameBytes)
		if err != nil {
			return true
		}
		if n == 0 {
			return false
		}
		if h.Op == ws.OpClose {
			return true
		}
		if int64(len(b)-n) < h.Length {
			return false
		}
		b = b[n+int(h.Length):]
	}
	return false
}

// Close closes every connection.
func (i *Idle) Close() {
	for _, c := range i.conns {
		if c != nil {
			c.Close()
		}
	}
}

// aliveByDeadline is alive where sockets cannot be peeked at: it reads with
// a short deadline, consuming what the server sent.
func aliveByDeadline(c net.Conn) bool {
	var b [4096]byte
	c.SetReadDeadline(time.Now().Add(time.Millisecond))
	n, err := c.Read(b[:])
	if n > 0 {
		return !closing(b[:n])
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
