package server

import (
	"container/list"
	"crypto/rand"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/protobuf/proto"

	"github.com/skymsg/sky/server/netpoll"
	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/server/ws"
	"github.com/skymsg/sky/wire"
)

// WebSocket close codes skyd uses besides the standard ones.
const (
	StatusReplaced   ws.StatusCode = 4001 // the device connected again
	StatusSlowClient ws.StatusCode = 4002 // the client stopped reading
)

const (
	pushPage            = 256       // messages read from the store at a time
	maxPushFrame        = 512 << 10 // bytes of content per Push frame (one envelope may exceed it)
	maxLiveBytes        = 1 << 20   // buffered live content per connection before falling back to the store
	accountRecheck      = 30 * time.Second
	maxAuthFailures     = 3
	maxRegisterAttempts = 3
	// closeWait is how long a client has to answer our close frame before
	// the socket is closed anyway.
	closeWait = 2 * time.Second
)

// conn is one client connection. It costs no goroutine and no buffer
// while idle:
//
//   - Reading: at most one goroutine reads at a time, at first the HTTP
//     handler's. It reads into a pooled buffer and handles every complete
//     frame; once the client has been quiet for Config.IdleAfter it gives
//     the buffer back, arms the poller and ends. The poller starts a new
//     reading goroutine (Wake) when the client sends again.
//   - Writing: responses and pushes are encoded into out as WebSocket
//     frames; a writer goroutine, started only while there is something to
//     write, writes everything waiting with one system call.
type conn struct {
	s       *Server
	nc      net.Conn
	rc      syscall.RawConn // for the poller; nil when this connection cannot park
	reg     netpoll.Registration
	limiter *rate.Limiter
	// blobRate is the attachment bytes this connection may move (see
	// takeRequest); made at its first BlobPut or BlobGet.
	blobRate *rate.Limiter

	closingFlag atomic.Bool // a close frame is queued: stop handling requests

	// Reading goroutine only.
	rbuf                           []byte // nil while parked
	rlen                           int    // bytes in rbuf
	frag                           []byte // a fragmented message being assembled
	fragging                       bool
	helloed                        bool
	challenge                      []byte // nil once authenticated
	authFailures, registerAttempts int
	acct                           store.Account // IdentityKey dropped
	acctChecked                    time.Time
	anon                           *anonState // set when the Hello asked for an anonymous connection
	open                           bool       // authenticated or anonymous: full-size frames allowed
	ip                             netip.Addr // source address (IPv6: its /64) until authenticated; memory only
	charged                        int64      // bytes of rbuf and frag charged to the frame budget
	bigRun                         bool       // the last frame parsed was bigger than a pooled read buffer
	frameStart                     time.Time  // when the frame being read began; zero between frames
	deadline                       time.Time  // the socket's read deadline
	deadlineSet                    bool

	// Guarded by the server's admission lock: set while this connection
	// is counted as unauthenticated.
	unauth *list.Element
	src    netip.Addr
	since  time.Time

	// Writer goroutine only.
	cursor uint64 // highest sequence number pushed

	mu         sync.Mutex
	authed     bool
	addr       store.Address
	live       []liveMessage
	liveBytes  int
	needDrain  bool
	pushDue    bool          // live messages or a drain are waiting
	out        []byte        // encoded frames waiting to be written
	pongAt     int           // where in out the pong not yet taken by the writer starts
	pongLen    int           // its length; 0: none waiting
	spare      []byte        // the writer's other buffer
	authTimer  *time.Timer   // until authentication
	outAnswers int           // responses in out; each frees a request slot once written
	inflight   int           // requests read and not yet answered on the wire
	slotFree   chan struct{} // made by a reader waiting for a slot; closed when one frees
	reading    bool          // a goroutine is reading
	writing    bool          // a writer goroutine is running
	closing    bool          // a close frame is queued or written: nothing more is queued
	closeSent  bool          // our close frame has been written
	dropAfter  bool          // close the socket once out is written
	halfClose  bool          // shut down our sending side once out is written
	closed     bool          // the socket is closed
	finished   bool          // the server has forgotten this connection
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if s.ctx.Err() != nil {
		w.Header().Set("Retry-After", "10")
		http.Error(w, "skyd is shutting down; reconnect shortly", http.StatusServiceUnavailable)
		return
	}
	if s.conns.Add(1) > int64(s.cfg.MaxConnections) {
		// Make room by closing the oldest connection that has had its
		// chance to authenticate and has not; refuse if there is none.
		victim := s.adm.oldest(evictAfter)
		if victim == nil {
			s.conns.Add(-1)
			s.m.connectionsRefused.Inc()
			w.Header().Set("Retry-After", "10")
			http.Error(w, "skyd is at its connection limit; retry later", http.StatusServiceUnavailable)
			return
		}
		s.m.connectionsEvicted.Inc()
		go victim.closeNow()
	}
	src := sourceKey(r.RemoteAddr)
	if !s.adm.reserve(src) {
		s.conns.Add(-1)
		s.m.connectionsRefused.Inc()
		w.Header().Set("Retry-After", "10")
		http.Error(w, "too many connections from your address have not authenticated; authenticate the open ones or retry later", http.StatusTooManyRequests)
		return
	}
	nc, rest, err := ws.Upgrade(w, r)
	if err != nil {
		s.adm.unreserve(src)
		s.conns.Add(-1)
		return // Upgrade has answered with an HTTP error
	}
	c := &conn{
		s:         s,
		nc:        nc,
		limiter:   s.cfg.ConnRate.limiter(),
		challenge: make([]byte, wire.ChallengeBytes),
		reading:   true,
		ip:        src,
	}
	rand.Read(c.challenge)
	if s.poller != nil {
		c.rc = rawConn(nc)
	}
	if len(rest) > 0 {
		c.rbuf = getReadBuf()
		c.rlen = copy(c.rbuf, rest) // rest is what net/http had buffered: a few KiB
	}
	if !s.hub.add(c, &s.connWG) {
		s.adm.unreserve(src)
		s.conns.Add(-1)
		nc.Write(ws.AppendClose(nil, ws.StatusGoingAway, "skyd is shutting down", nil))
		nc.Close()
		return
	}
	s.adm.track(c, src)
	s.m.connectionsTotal.Inc()
	s.m.active.Add(1)
	t := time.AfterFunc(s.cfg.HandshakeTimeout, func() {
		if !c.isAuthed() {
			c.fail(wire.Code_UNAUTHENTICATED, "no authentication within the handshake timeout; send Hello then Authenticate or Register promptly", ws.StatusPolicyViolation)
		}
	})
	c.mu.Lock()
	if c.closed {
		t.Stop()
	} else {
		c.authTimer = t
	}
	c.mu.Unlock()
	c.readLoop()
}

// rawConn returns the socket under nc (under TLS too) for the poller, or
// nil if there is none.
func rawConn(nc net.Conn) syscall.RawConn {
	type netConner interface{ NetConn() net.Conn }
	if t, ok := nc.(netConner); ok {
		nc = t.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
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

// fail queues a connection-level Error frame and a close frame, then closes
// the connection once the client answers (or closeWait has passed).
func (c *conn) fail(code wire.Code, msg string, status ws.StatusCode) {
	c.failErr(wire.NewError(code, msg), status)
}

func (c *conn) failErr(e *wire.Error, status ws.StatusCode) {
	f := &wire.Frame{Body: &wire.Frame_Error{Error: e}}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.ensureOutLocked()
	c.out = appendProtoFrame(c.out, f)
	c.startClosingLocked(status, e.GetCode().String())
	c.mu.Unlock()
}

// failBroken is fail for a stream whose framing is broken, so no answer to
// the close frame can be read: once the frames are written the server stops
// sending and closes the socket after closeWait (closing at once, with the
// client's data unread, would reset the connection and could destroy the
// error frame on its way).
func (c *conn) failBroken(code wire.Code, msg string, status ws.StatusCode) {
	c.failBrokenErr(wire.NewError(code, msg), status)
}

func (c *conn) failBrokenErr(e *wire.Error, status ws.StatusCode) {
	c.mu.Lock()
	c.halfClose = true
	c.mu.Unlock()
	c.failErr(e, status)
}

// startClosingLocked queues our close frame; nothing is queued after it.
// c.mu is held.
func (c *conn) startClosingLocked(status ws.StatusCode, reason string) {
	c.closing = true
	c.closingFlag.Store(true)
	c.out = ws.AppendClose(c.out, status, reason, nil)
	c.kickLocked()
	time.AfterFunc(closeWait, c.closeNow)
}

func (c *conn) goingAway() {
	c.fail(wire.Code_UNAVAILABLE, "skyd is shutting down; reconnect shortly", ws.StatusGoingAway)
}

// closeNow closes the socket at once. The connection is forgotten when its
// reading and writing goroutines have finished.
func (c *conn) closeNow() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed, c.closing = true, true
	c.closingFlag.Store(true)
	if c.authTimer != nil {
		c.authTimer.Stop()
	}
	if c.s.poller != nil {
		c.s.poller.Forget(&c.reg)
	}
	if c.slotFree != nil {
		close(c.slotFree)
		c.slotFree = nil
	}
	c.live, c.out, c.spare = nil, nil, nil
	done := c.finishLocked()
	c.mu.Unlock()
	c.nc.Close()
	done()
}

// finishLocked returns what must run once a closed connection has no
// goroutine left: the server forgets it. c.mu is held.
func (c *conn) finishLocked() func() {
	if !c.closed || c.reading || c.writing || c.finished {
		return func() {}
	}
	c.finished = true
	return func() {
		c.s.adm.release(c)
		c.s.hub.remove(c)
		c.s.m.active.Add(-1)
		c.s.conns.Add(-1)
		c.s.connWG.Done()
	}
}

// appendProtoFrame appends f as one binary WebSocket frame.
func appendProtoFrame(dst []byte, f *wire.Frame) []byte {
	n := proto.Size(f)
	dst = ws.AppendHeader(dst, true, ws.OpBinary, n, nil)
	dst, _ = proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(dst, f)
	return dst
}

// reply queues a response. It never blocks, so the group-commit goroutine
// can call it.
func (c *conn) reply(id uint64, r *wire.Response) {
	r.Id = id
	f := &wire.Frame{Body: &wire.Frame_Response{Response: r}}
	c.mu.Lock()
	if !c.closing {
		c.ensureOutLocked()
		c.out = appendProtoFrame(c.out, f)
		c.outAnswers++
		c.kickLocked()
	}
	c.mu.Unlock()
}

func (c *conn) replyErr(id uint64, e *wire.Error) {
	c.reply(id, &wire.Response{Error: e})
}

// replySent and replyAcked queue the two answers of the hot path without
// building messages.
func (c *conn) replySent(id uint64) {
	c.mu.Lock()
	if !c.closing {
		c.ensureOutLocked()
		c.out = ws.AppendHeader(c.out, true, ws.OpBinary, wire.EmptyResultLen(id), nil)
		c.out = wire.AppendSentResponse(c.out, id)
		c.outAnswers++
		c.kickLocked()
	}
	c.mu.Unlock()
}

func (c *conn) replyAcked(id uint64) {
	c.mu.Lock()
	if !c.closing {
		c.ensureOutLocked()
		c.out = ws.AppendHeader(c.out, true, ws.OpBinary, wire.EmptyResultLen(id), nil)
		c.out = wire.AppendAckedResponse(c.out, id)
		c.outAnswers++
		c.kickLocked()
	}
	c.mu.Unlock()
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
	c.kickLocked()
	c.mu.Unlock()
}

// poke schedules a push.
func (c *conn) poke() {
	c.mu.Lock()
	c.pushDue = true
	c.kickLocked()
	c.mu.Unlock()
}
