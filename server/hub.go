package server

import (
	"sync"
	"time"

	"github.com/skymsg/sky/server/store"
)

// liveMessage is a just-committed message on its way to a connected
// recipient.
type liveMessage struct {
	store.Message
	arrived time.Time
	// prev is the batch's Prevs entry: a connection whose cursor is below
	// it has not pushed a message queued before this one, committed by
	// another process, and must read the store first.
	prev uint64
}

// hub knows every open connection, and which device each authenticated one
// belongs to (at most one connection per device on this node).
type hub struct {
	mu      sync.Mutex
	all     map[*conn]struct{}
	devices map[store.Address]*conn
	closed  bool
}

func newHub() *hub {
	return &hub{all: map[*conn]struct{}{}, devices: map[store.Address]*conn{}}
}

// add registers a new connection; false once the server is closing.
func (h *hub) add(c *conn, wg *sync.WaitGroup) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	wg.Add(1)
	h.all[c] = struct{}{}
	return true
}

func (h *hub) remove(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.all, c)
	if a := c.address(); h.devices[a] == c {
		delete(h.devices, a)
	}
}

// bind makes c the connection of device a and returns the one it replaces.
func (h *hub) bind(a store.Address, c *conn) (old *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old = h.devices[a]
	h.devices[a] = c
	return old
}

// deliver hands committed messages to their recipients' connections.
func (h *hub) deliver(msgs []liveMessage) {
	if len(msgs) == 0 {
		return
	}
	targets := make([]*conn, len(msgs))
	h.mu.Lock()
	for i, m := range msgs {
		targets[i] = h.devices[m.To]
	}
	h.mu.Unlock()
	for i, c := range targets {
		if c != nil {
			c.offer(msgs[i])
		}
	}
}

// account returns the connections of every device of account.
func (h *hub) account(account string) []*conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*conn
	for a, c := range h.devices {
		if a.Account == account {
			out = append(out, c)
		}
	}
	return out
}

// closeAll refuses new connections and closes every open one.
func (h *hub) closeAll() {
	h.mu.Lock()
	h.closed = true
	cs := make([]*conn, 0, len(h.all))
	for c := range h.all {
		cs = append(cs, c)
	}
	h.mu.Unlock()
	for _, c := range cs {
		go c.goingAway() // closing waits for the peer; do all at once
	}
}
