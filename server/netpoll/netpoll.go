// Package netpoll tells a server when an idle socket becomes readable, so
// that it need not keep a goroutine blocked in Read for every connection
// that has nothing to say.
//
// A connection that has been quiet for a while arms its Registration and
// lets its goroutine end; when the client sends something (or hangs up) the
// poller starts a new goroutine that calls the connection's Wake method,
// once. On Linux this is epoll with one-shot, level-triggered
// registrations; elsewhere New returns ErrUnsupported and callers keep their
// goroutine blocked in Read instead.
package netpoll

import (
	"errors"
	"sync"
	"syscall"
)

// ErrUnsupported is returned by New where no poller is implemented.
var ErrUnsupported = errors.New("netpoll: not supported on this system")

// ErrClosed is returned by Arm after Close.
var ErrClosed = errors.New("netpoll: poller closed")

// Waker is woken, once per Arm, when its socket is readable or hung up.
type Waker interface {
	Wake()
}

// Registration is one socket's place in the poller. The zero value is
// ready to use; it must not be copied after first use. Arm and Forget must
// not run concurrently for one Registration, and Forget must be called
// before the socket is closed.
type Registration struct {
	token uint64 // of the latest Arm; zero before the first
	fd    int32
	gotFD bool // fd is set
	added bool // fd is in the kernel's interest list
}

// Poller watches armed registrations. It is safe for concurrent use.
type Poller struct {
	mu      sync.Mutex
	next    uint64
	waiting map[uint64]Waker
	closed  bool
	sys     sysPoller
	done    chan struct{}
}

// New starts a poller (one goroutine, which waits in the kernel).
func New() (*Poller, error) {
	p := &Poller{waiting: map[uint64]Waker{}, done: make(chan struct{})}
	if err := p.sys.open(); err != nil {
		return nil, err
	}
	go p.loop()
	return p, nil
}

// Arm asks for w.Wake to be called in a new goroutine once rc's socket is
// readable (including end of stream and errors). It returns at once; if
// the socket is readable already, Wake comes right away.
func (p *Poller) Arm(r *Registration, rc syscall.RawConn, w Waker) error {
	if !r.gotFD {
		var fd int32 = -1
		if err := rc.Control(func(f uintptr) { fd = int32(f) }); err != nil {
			return err
		}
		r.fd, r.gotFD = fd, true
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.next++
	r.token = p.next
	p.waiting[r.token] = w
	p.mu.Unlock()
	if err := p.sys.arm(r.fd, r.token, r.added); err != nil {
		p.mu.Lock()
		delete(p.waiting, r.token)
		p.mu.Unlock()
		r.token = 0
		return err
	}
	r.added = true
	return nil
}

// Forget cancels a pending Arm, if any; a wake-up already under way may
// still happen. Call it before closing the socket.
func (p *Poller) Forget(r *Registration) {
	if r.token == 0 {
		return
	}
	p.mu.Lock()
	delete(p.waiting, r.token)
	p.mu.Unlock()
	r.token = 0
}

// Len returns how many registrations are armed.
func (p *Poller) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waiting)
}

// Close stops the poller; pending registrations are never woken.
func (p *Poller) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.waiting = map[uint64]Waker{}
	p.mu.Unlock()
	p.sys.interrupt()
	<-p.done
	return p.sys.close()
}

func (p *Poller) loop() {
	defer close(p.done)
	tokens := make([]uint64, 0, 256)
	for {
		var stop bool
		tokens, stop = p.sys.wait(tokens[:0])
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		for _, t := range tokens {
			if w, ok := p.waiting[t]; ok {
				delete(p.waiting, t)
				go w.Wake()
			}
		}
		p.mu.Unlock()
		if stop {
			return
		}
	}
}
