package server

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/wire"
)

// WebSocket close codes skyd uses besides the standard ones.
const (
	StatusReplaced   websocket.StatusCode = 4001 // the device connected again
	StatusSlowClient websocket.StatusCode = 4002 // the client stopped reading
)

const (
	pushPage            = 256       // messages read from the store at a time
	maxPushFrame        = 512 << 10 // bytes of content per Push frame (one envelope may exceed it)
	maxLiveBytes        = 1 << 20   // buffered live content per connection before falling back to the store
	accountRecheck      = 30 * time.Second
	maxAuthFailures     = 3
	maxRegisterAttempts = 3
)

// conn is one client connection. The handler goroutine reads and handles
// requests; a writer goroutine, started only while there is something to
// write (so an idle connection costs one goroutine), writes responses and
// pushes, and a slow client stalls only itself.
type conn struct {
	s         *Server
	ws        *websocket.Conn
	ctx       context.Context
	cancel    context.CancelFunc
	slots     chan struct{} // one per unanswered request
	writers   sync.WaitGroup
	limiter   *rate.Limiter
	challenge []byte
	closeOnce sync.Once

	// Reader goroutine only.
	authFailures, registerAttempts int
	acct                           store.Account
	acctChecked                    time.Time

	// Writer goroutine only.
	cursor uint64 // highest sequence number pushed

	mu        sync.Mutex
	authed    bool
	addr      store.Address
	live      []liveMessage
	liveBytes int
	needDrain bool
	outq      []*wire.Frame // responses waiting to be written (at most one per slot)
	pushDue   bool          // live messages or a drain are waiting
	writing   bool          // a writer goroutine is running
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if s.ctx.Err() != nil {
		w.Header().Set("Retry-After", "10")
		http.Error(w, "skyd is shutting down; reconnect shortly", http.StatusServiceUnavailable)
		return
	}
	if s.conns.Add(1) > int64(s.cfg.MaxConnections) {
		s.conns.Add(-1)
		s.m.connectionsRefused.Inc()
		w.Header().Set("Retry-After", "10")
		http.Error(w, "skyd is at its connection limit; retry later", http.StatusServiceUnavailable)
		return
	}
	defer s.conns.Add(-1)
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return // Accept has answered with an HTTP error
	}
	ctx, cancel := context.WithCancel(s.ctx)
	c := &conn{
		s:         s,
		ws:        ws,
		ctx:       ctx,
		cancel:    cancel,
		slots:     make(chan struct{}, s.cfg.MaxInflight),
		limiter:   s.cfg.ConnRate.limiter(),
		challenge: make([]byte, wire.ChallengeBytes),
	}
	rand.Read(c.challenge)
	if !s.hub.add(c, &s.connWG) {
		cancel()
		ws.Close(websocket.StatusGoingAway, "skyd is shutting down")
		return
	}
	defer s.connWG.Done()
	s.m.connectionsTotal.Inc()
	s.m.active.Add(1)
	defer s.m.active.Add(-1)
	c.run()
}

func (c *conn) run() {
	defer func() {
		c.s.hub.remove(c)
		c.cancel()
		c.ws.CloseNow()
	}()
	c.ws.SetReadLimit(wire.MaxClientFrameBytes)
	authTimer := time.AfterFunc(c.s.cfg.HandshakeTimeout, func() {
		if !c.isAuthed() {
			c.fail(wire.Code_UNAUTHENTICATED, "no authentication within the handshake timeout; send Hello then Authenticate or Register promptly", websocket.StatusPolicyViolation)
		}
	})
	defer authTimer.Stop()
	if !c.handshake() {
		return
	}
	c.readLoop()
	c.cancel()
	c.mu.Lock() // after this no writer can start (see kick)
	c.mu.Unlock()
	c.writers.Wait()
}

func (c *conn) isAuthed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.authed
}

func (c *conn) address() store.Address {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.addr
}

// fail sends a connection-level Error frame and closes the connection.
func (c *conn) fail(code wire.Code, msg string, status websocket.StatusCode) {
	c.closeOnce.Do(func() {
		if b, err := wire.Encode(&wire.Frame{Body: &wire.Frame_Error{Error: wire.NewError(code, msg)}}); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			c.ws.Write(ctx, websocket.MessageBinary, b)
			cancel()
		}
		c.cancel()
		c.ws.Close(status, code.String())
	})
}

func (c *conn) goingAway() {
	c.fail(wire.Code_UNAVAILABLE, "skyd is shutting down; reconnect shortly", websocket.StatusGoingAway)
}

// handshake reads Hello and answers Welcome.
func (c *conn) handshake() bool {
	_, data, err := c.ws.Read(c.ctx)
	if err != nil {
		return false
	}
	f, err := wire.Decode(data, wire.MaxClientFrameBytes)
	if err != nil || f.GetHello() == nil {
		c.s.m.badFrames.Inc()
		c.fail(wire.Code_BAD_REQUEST, "the first frame must be a Hello", websocket.StatusPolicyViolation)
		return false
	}
	ok := false
	for _, v := range f.GetHello().GetVersions() {
		ok = ok || v == wire.Version
	}
	if !ok {
		c.fail(wire.Code_UNSUPPORTED_VERSION, "this server speaks protocol version 1 only; upgrade the client", websocket.StatusPolicyViolation)
		return false
	}
	welcome := &wire.Welcome{
		Version:    wire.Version,
		Challenge:  c.challenge,
		ServerTime: c.s.now().Unix(),
		Limits: &wire.Limits{
			MaxMessageBytes:     wire.MaxMessageBytes,
			MaxFrameBytes:       wire.MaxClientFrameBytes,
			MaxPrekeysPerUpload: wire.MaxPreKeysPerUpload,
			MessageTtlSeconds:   uint32(c.s.cfg.MessageTTL / time.Second),
			MaxInflightRequests: uint32(c.s.cfg.MaxInflight),
		},
	}
	return c.write(&wire.Frame{Body: &wire.Frame_Welcome{Welcome: welcome}}) == nil
}

func (c *conn) readLoop() {
	for {
		typ, data, err := c.ws.Read(c.ctx)
		if err != nil {
			if errors.Is(err, websocket.ErrMessageTooBig) || websocket.CloseStatus(err) == websocket.StatusMessageTooBig {
				c.s.m.badFrames.Inc()
			}
			return
		}
		if typ != websocket.MessageBinary {
			c.s.m.badFrames.Inc()
			c.fail(wire.Code_BAD_REQUEST, "frames must be binary protobuf", websocket.StatusUnsupportedData)
			return
		}
		f, err := wire.Decode(data, wire.MaxClientFrameBytes)
		if err != nil || f.GetRequest() == nil {
			c.s.m.badFrames.Inc()
			c.fail(wire.Code_BAD_REQUEST, "malformed frame: after Hello a client sends only Request frames", websocket.StatusUnsupportedData)
			return
		}
		select {
		case c.slots <- struct{}{}:
		case <-c.ctx.Done():
			return
		}
		req := f.GetRequest()
		if wait, ok := take(c.limiter, c.s.now()); !ok {
			c.s.m.rateLimited.Inc()
			c.replyErr(req.GetId(), rateLimited("this connection sends requests too fast", wait))
			continue
		}
		c.handle(req)
	}
}

// reply queues a response; the writer frees the request's slot once it is
// written. It never blocks, so the group-commit goroutine can call it.
func (c *conn) reply(id uint64, r *wire.Response) {
	r.Id = id
	c.mu.Lock()
	c.outq = append(c.outq, &wire.Frame{Body: &wire.Frame_Response{Response: r}})
	c.kick()
	c.mu.Unlock()
}

// kick starts the writer goroutine unless it runs already. c.mu is held.
func (c *conn) kick() {
	if c.writing || c.ctx.Err() != nil {
		return
	}
	c.writing = true
	c.writers.Add(1)
	go c.writeLoop()
}

func (c *conn) replyErr(id uint64, e *wire.Error) {
	c.reply(id, &wire.Response{Error: e})
}

// writeLoop writes queued responses, then pending pushes, and exits when
// there is nothing left to write.
func (c *conn) writeLoop() {
	defer c.writers.Done()
	for {
		c.mu.Lock()
		if c.ctx.Err() != nil {
			c.writing = false
			c.mu.Unlock()
			return
		}
		if len(c.outq) > 0 {
			f := c.outq[0]
			c.outq[0] = nil
			if c.outq = c.outq[1:]; len(c.outq) == 0 {
				c.outq = nil
			}
			c.mu.Unlock()
			err := c.write(f)
			<-c.slots
			if err != nil {
				c.stopWriting()
				return
			}
			if f.GetResponse().GetAccountDeleted() != nil {
				c.fail(wire.Code_NOT_FOUND, "this account was deleted", websocket.StatusNormalClosure)
				c.stopWriting()
				return
			}
			continue
		}
		if c.pushDue {
			c.pushDue = false
			c.mu.Unlock()
			if c.push() != nil {
				c.stopWriting()
				return
			}
			continue
		}
		c.writing = false
		c.mu.Unlock()
		return
	}
}

func (c *conn) stopWriting() {
	c.mu.Lock()
	c.writing = false
	c.mu.Unlock()
}

// write sends one frame, dropping the client if it does not take it within
// the write timeout.
func (c *conn) write(f *wire.Frame) error {
	b, err := wire.Encode(f)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.WriteTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageBinary, b); err != nil {
		// DeadlineExceeded only if our timeout fired, not a close.
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			c.s.m.slowClients.Inc()
			c.fail(wire.Code_SLOW_CLIENT, "the client did not read for too long", StatusSlowClient)
		}
		c.cancel()
		return err
	}
	return nil
}

// offer is called by the hub with a committed message for this device.
func (c *conn) offer(m liveMessage) {
	c.mu.Lock()
	if c.liveBytes+len(m.Body) > maxLiveBytes {
		// Too much buffered: forget it and read from the store instead,
		// which has every committed message in order.
		c.live, c.liveBytes, c.needDrain = nil, 0, true
	} else {
		c.live = append(c.live, m)
		c.liveBytes += len(m.Body)
	}
	c.pushDue = true
	c.kick()
	c.mu.Unlock()
}

// poke schedules a push.
func (c *conn) poke() {
	c.mu.Lock()
	c.pushDue = true
	c.kick()
	c.mu.Unlock()
}

// push sends what is waiting for this device: first the store's backlog
// when a drain is due (after authentication or a live-buffer overflow), then
// the live messages, skipping anything at or below the cursor.
func (c *conn) push() error {
	c.mu.Lock()
	live, drain, addr := c.live, c.needDrain, c.addr
	c.live, c.liveBytes, c.needDrain = nil, 0, false
	c.mu.Unlock()
	cutoff := c.s.cutoff()
	if drain {
		for {
			msgs, err := c.s.st.Pending(c.ctx, addr, c.cursor, cutoff, pushPage)
			if err != nil {
				if c.ctx.Err() == nil {
					c.s.log.Error("reading a queue failed; retrying", "err", err)
					c.mu.Lock()
					c.needDrain = true
					c.mu.Unlock()
					time.AfterFunc(time.Second, c.poke)
				}
				return nil
			}
			lm := make([]liveMessage, len(msgs))
			for i, m := range msgs {
				lm[i].Message = m
			}
			if err := c.sendEnvelopes(lm); err != nil {
				return err
			}
			if len(msgs) < pushPage {
				break
			}
		}
	}
	fresh := live[:0]
	for _, m := range live {
		if m.Seq > c.cursor && m.Received.After(cutoff) {
			fresh = append(fresh, m)
		}
	}
	return c.sendEnvelopes(fresh)
}

// sendEnvelopes writes msgs in Push frames of bounded size.
func (c *conn) sendEnvelopes(msgs []liveMessage) error {
	for len(msgs) > 0 {
		var (
			envs []*wire.Envelope
			size int
			n    int
		)
		for n < len(msgs) && (n == 0 || size+len(msgs[n].Body) <= maxPushFrame) {
			m := msgs[n]
			e := &wire.Envelope{Id: c.s.ids.encode(m.Seq), ServerTime: m.Received.Unix(), Content: m.Body}
			if !m.From.IsZero() {
				e.Sender = &wire.Sender{Account: m.From.Account, Device: m.From.Device}
			}
			envs = append(envs, e)
			size += len(m.Body)
			n++
		}
		if err := c.write(&wire.Frame{Body: &wire.Frame_Push{Push: &wire.Push{Envelopes: envs}}}); err != nil {
			return err
		}
		for _, m := range msgs[:n] {
			if !m.arrived.IsZero() {
				c.s.m.deliverSeconds.ObserveSince(m.arrived)
			}
		}
		c.cursor = msgs[n-1].Seq
		c.s.m.pushed.Add(uint64(n))
		msgs = msgs[n:]
	}
	return nil
}
