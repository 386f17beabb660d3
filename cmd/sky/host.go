package main

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/skymsg/sky/client"
)

// host holds the account for a sky that stays running (sky daemon, sky web,
// sky tui): while unlocked, the client, its connection and the daemon's
// subscriptions; always, the JSON-RPC socket on which sky's everyday
// commands go through it. It can start locked and lock again: the socket
// then stays claimed and answers that the account is locked, so no second
// process opens the store behind the locked one's back.
type host struct {
	e      *env
	socket string
	ln     net.Listener

	mu    sync.Mutex
	sess  *session // nil while locked
	conns map[net.Conn]*session
	wg    sync.WaitGroup // the socket's connections
}

// session is one unlocked stretch of a host.
type session struct {
	c      *client.Client
	d      *daemon
	ctx    context.Context
	cancel context.CancelFunc
	stop   func() // ends the connection to the server
}

// newHost claims socket for the home, locked. Call serve to answer on it and
// close when done.
func (e *env) newHost(socket string) (*host, error) {
	ln, err := listenUnix(socket)
	if err != nil {
		return nil, err
	}
	return &host{e: e, socket: socket, ln: ln, conns: map[net.Conn]*session{}}, nil
}

// unlock opens the account with pass (as every sky unlock does: e.unlock)
// and holds it. It fails if the host is unlocked already.
func (h *host) unlock(pass []byte) (*client.Client, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sess != nil {
		return nil, fmt.Errorf("the Sky account is unlocked already")
	}
	c, err := h.e.unlock(pass)
	if err != nil {
		return nil, err
	}
	h.adoptLocked(c)
	return c, nil
}

// adopt holds c, a client the caller unlocked, as an unlock would.
func (h *host) adopt(c *client.Client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.adoptLocked(c)
}

func (h *host) adoptLocked(c *client.Client) {
	ctx, cancel := context.WithCancel(h.e.ctx)
	s := &session{c: c, d: &daemon{c: c, home: h.e.home, subs: map[int]*rpcConn{}}, ctx: ctx, cancel: cancel}
	go s.d.fanout(ctx)
	// A host is what the user watches (the daemon's subscribers, the web
	// page, the TUI): a server back from an outage is found within seconds.
	c.SetMaxBackoff(watchingBackoff())
	s.stop = h.e.online(c)
	go runScheduledBackups(ctx, c, h.e.stderr)
	h.sess = s
}

// client returns the unlocked client, or nil while locked.
func (h *host) client() *client.Client {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sess == nil {
		return nil
	}
	return h.sess.c
}

// lock closes the client: the connection ends, the daemon's connections of
// the unlocked stretch are closed (their subscriptions end), and the store is
// closed, its keys dropped. Locking a locked host does nothing.
func (h *host) lock() {
	h.mu.Lock()
	s := h.sess
	h.sess = nil
	if s != nil {
		for nc, of := range h.conns {
			if of == s {
				nc.Close()
			}
		}
	}
	h.mu.Unlock()
	if s == nil {
		return
	}
	s.cancel()
	s.stop()
	s.c.Close()
}

// serve answers on the socket until the env's context ends or the socket
// fails. While locked, every method answers that the account is locked.
func (h *host) serve() error {
	go func() {
		<-h.e.ctx.Done()
		h.ln.Close()
	}()
	for {
		nc, err := h.ln.Accept()
		if err != nil {
			if h.e.ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("the daemon's socket failed: %w", err)
		}
		h.mu.Lock()
		s := h.sess
		h.conns[nc] = s
		h.mu.Unlock()
		d, ctx := &daemon{home: h.e.home}, h.e.ctx // locked: every call says so
		if s != nil {
			d, ctx = s.d, s.ctx
		}
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			d.serve(ctx, nc)
			h.mu.Lock()
			delete(h.conns, nc)
			h.mu.Unlock()
		}()
	}
}

// close locks the host, stops answering on the socket and removes it.
func (h *host) close() {
	h.lock()
	h.ln.Close()
	h.mu.Lock()
	for nc := range h.conns {
		nc.Close()
	}
	h.mu.Unlock()
	h.wg.Wait()
}
