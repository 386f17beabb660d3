package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
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
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range max(1, concurrency) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(devs) || ctx.Err() != nil {
					return
				}
				nc, err := openIdle(ctx, d, devs[i])
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("idle connection %d: %w", i, err)
					}
					mu.Unlock()
					return
				}
				idle.conns[i] = nc
				if progress != nil {
					progress()
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		idle.Close()
		return nil, first
	}
	return idle, ctx.Err()
}

func openIdle(ctx context.Context, d *Dialer, dev Device) (net.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := d.Dial(cctx)
	if err != nil {
		return nil, err
	}
	if err := c.Authenticate(cctx, dev); err != nil {
		c.Close()
		return nil, err
	}
	return c.nc, nil
}

// Len returns how many connections were opened.
func (i *Idle) Len() int { return len(i.conns) }

// Alive returns how many connections the server still holds open: it
// probes each socket without waiting (a server that closed one has sent
// its close frame or end of stream).
func (i *Idle) Alive() int {
	n := 0
	var b [1]byte
	for _, c := range i.conns {
		if c == nil {
			continue
		}
		c.SetReadDeadline(time.Now())
		_, err := c.Read(b[:])
		if err == nil {
			continue // the server sent something: a close frame or a push
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			n++
		}
	}
	return n
}

// Close closes every connection.
func (i *Idle) Close() {
	for _, c := range i.conns {
		if c != nil {
			c.Close()
		}
	}
}
