package wire

import "sync"

// Calls matches pipelined requests to their responses by Request.id
// (docs/protocol.md), for a client connection: Add numbers a request and
// returns the channel its response will arrive on, the connection's reader
// hands every Response to Deliver, and Close, when the connection ends,
// closes the channel of every request still waiting; Add fails after it.
// The zero value is ready to use. Its methods are safe for concurrent use.
type Calls struct {
	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan *Response
	closed  bool
}

// Add sets req.Id to the next request ID and returns the channel that
// receives the response, or is closed without one if the connection ends
// first. It returns false once Close was called.
func (c *Calls) Add(req *Request) (<-chan *Response, bool) {
	ch := make(chan *Response, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, false
	}
	if c.pending == nil {
		c.pending = map[uint64]chan *Response{}
	}
	c.nextID++
	req.Id = c.nextID
	c.pending[req.Id] = ch
	return ch, true
}

// Cancel forgets the request numbered id (one that could not be sent).
func (c *Calls) Cancel(id uint64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// Deliver hands r to the request it answers. An answer to no waiting
// request (unsolicited, or a second one) is dropped.
func (c *Calls) Deliver(r *Response) {
	c.mu.Lock()
	ch := c.pending[r.GetId()]
	delete(c.pending, r.GetId())
	c.mu.Unlock()
	if ch != nil {
		ch <- r
	}
}

// Close closes the channel of every request still waiting for its response;
// every later Add fails.
func (c *Calls) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
}
