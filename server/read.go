package server

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/skymsg/sky/server/ws"
	"github.com/skymsg/sky/wire"
)

const (
	// readBufSize is the pooled read buffer: many pipelined requests fit
	// in one read. A bigger frame grows a buffer of its own as its bytes
	// arrive, charged to the server's frame budget.
	readBufSize = 16 << 10
	// DefaultFrameTimeout bounds how long a client may take to finish a
	// frame, from its first byte.
	DefaultFrameTimeout = 30 * time.Second
)

var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

func getReadBuf() []byte { return *readBufs.Get().(*[]byte) }

func putReadBuf(b []byte) {
	if cap(b) == readBufSize {
		b = b[:readBufSize]
		readBufs.Put(&b)
	}
}

// Wake is called by the poller when a parked connection has something to
// read.
func (c *conn) Wake() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.reading = true
	c.mu.Unlock()
	c.readLoop()
}

// readLoop reads and handles frames until the connection closes or parks.
func (c *conn) readLoop() {
	parkable := c.rc != nil && c.s.cfg.IdleAfter > 0
	for {
		need, ok := c.parse()
		if !ok {
			c.stopReading(false)
			return
		}
		if !c.sizeReadBuf(need) {
			c.stopReading(false)
			return
		}
		switch {
		case c.rlen > 0 || c.fragging:
			// A frame (or fragmented message) has begun: it must be
			// complete within the frame timeout of its first byte, however
			// slowly its bytes come.
			if c.frameStart.IsZero() {
				c.frameStart = time.Now()
			}
			c.setDeadline(c.frameStart.Add(c.s.cfg.FrameTimeout))
		case parkable:
			c.setDeadline(time.Now().Add(c.s.cfg.IdleAfter))
		default:
			c.setDeadline(time.Time{})
		}
		n, err := c.nc.Read(c.rbuf[c.rlen:])
		c.rlen += n
		if err == nil || n > 0 {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && c.rlen == 0 && !c.fragging && parkable {
			if c.park() {
				return
			}
			parkable = false // the poller refused: keep a goroutine
			continue
		}
		c.stopReading(true)
		return
	}
}

// setDeadline sets the socket's read deadline unless it is set already.
func (c *conn) setDeadline(t time.Time) {
	if t.Equal(c.deadline) && (!t.IsZero() || c.deadlineSet) {
		return
	}
	c.nc.SetReadDeadline(t)
	c.deadline, c.deadlineSet = t, true
}

// sizeReadBuf makes sure there is room to read into: a pooled buffer, grown
// (doubling, at most to need and a pooled buffer more) only once it is full, so a frame's buffer is
// never more than twice the bytes that have actually arrived, and shrunk
// back once no big frame is waiting and the last one parsed was small (a
// run of big frames, an upload's chunks, keeps its buffer, still charged
// to the frame budget, instead of growing it again for each chunk; parking
// gives it back). False if the frame budget is spent (the connection is
// then told so and closed).
func (c *conn) sizeReadBuf(need int) bool {
	switch {
	case c.rbuf == nil:
		c.rbuf = getReadBuf()
	case len(c.rbuf) > readBufSize && need <= readBufSize && c.rlen <= readBufSize && !c.bigRun:
		nb := getReadBuf()
		c.rlen = copy(nb, c.rbuf[:c.rlen])
		c.rbuf = nb
		c.setCharge(int64(cap(c.frag)))
	case c.rlen == len(c.rbuf) && need > len(c.rbuf):
		// Room for the next frame's header beyond this frame: a buffer of
		// exactly one frame ends every read at its end, so the next
		// header is never there and the buffer shrinks and grows again
		// for each of a run of big frames (an upload's chunks).
		size := min(need+readBufSize, 2*len(c.rbuf))
		if !c.setCharge(int64(size-readBufSize) + int64(cap(c.frag))) {
			c.overBudget()
			return false
		}
		nb := make([]byte, size)
		copy(nb, c.rbuf[:c.rlen])
		putReadBuf(c.rbuf)
		c.rbuf = nb
	}
	return true
}

// setCharge charges the frame budget want bytes in all for this
// connection's buffers; false, and nothing changed, if it is spent.
func (c *conn) setCharge(want int64) bool {
	if !c.s.frames.take(want-c.charged, c.anon != nil) {
		return false
	}
	c.charged = want
	return true
}

// overBudget refuses a frame the frame budget has no room for.
func (c *conn) overBudget() {
	c.s.m.overBudget.Inc()
	e := wire.NewError(wire.Code_UNAVAILABLE, "the server is receiving too many large frames at once; retry shortly")
	e.RetryAfterMs = 1000
	c.failBrokenErr(e, ws.StatusTryAgainLater)
}

// park gives back the read buffer and arms the poller; false if the
// connection must keep reading instead. On true the caller's goroutine
// must end without touching the connection.
func (c *conn) park() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.dropReadBufs()
	if err := c.s.poller.Arm(&c.reg, c.rc, c); err != nil {
		return false
	}
	c.reading = false
	return true
}

// dropReadBufs gives back the read buffers and their charge.
func (c *conn) dropReadBufs() {
	putReadBuf(c.rbuf)
	c.rbuf, c.rlen, c.frag, c.fragging = nil, 0, nil, false
	c.bigRun = false
	c.frameStart = time.Time{}
	c.setCharge(0)
}

// stopReading ends the reading goroutine (closing the socket if drop).
func (c *conn) stopReading(drop bool) {
	if drop {
		c.closeNow()
	}
	c.dropReadBufs()
	c.mu.Lock()
	c.reading = false
	done := c.finishLocked()
	c.mu.Unlock()
	done()
}

// parse handles every complete frame in the read buffer and moves what is
// left to its front. It returns how large the buffer must be to hold the
// next frame, and false when this connection reads no more (the socket is
// closed, or closes once the frames queued are written).
func (c *conn) parse() (need int, ok bool) {
	pos := 0
	need = readBufSize
	for pos < c.rlen {
		b := c.rbuf[pos:c.rlen]
		h, n, err := ws.ParseHeader(b, int64(c.frameLimit()))
		if err != nil {
			c.s.m.badFrames.Inc()
			if errors.Is(err, ws.ErrTooBig) {
				c.failBroken(wire.Code_TOO_LARGE, c.tooLarge(), ws.StatusMessageTooBig)
			} else {
				c.failBroken(wire.Code_BAD_REQUEST, "invalid WebSocket framing", ws.StatusProtocolError)
			}
			return 0, false
		}
		if n == 0 {
			break
		}
		if !h.Masked {
			c.s.m.badFrames.Inc()
			c.failBroken(wire.Code_BAD_REQUEST, "client frames must be masked", ws.StatusProtocolError)
			return 0, false
		}
		total := n + int(h.Length)
		if len(b) < total {
			need = max(need, total)
			break
		}
		payload := b[n:total]
		ws.MaskBytes(h.Mask, 0, payload)
		pos += total
		c.bigRun = total > readBufSize
		if !c.fragging && (h.Fin || h.Op.IsControl()) {
			// The next frame's clock starts with its first byte; a
			// fragmented message keeps its first fragment's.
			c.frameStart = time.Time{}
		}
		if !c.frame(h, payload) {
			return 0, false
		}
	}
	if pos > 0 {
		c.rlen = copy(c.rbuf, c.rbuf[pos:c.rlen])
	}
	return need, true
}

// frame handles one frame; false when the connection reads no more. After
// fail it goes on reading, for the client's answer to the close frame.
func (c *conn) frame(h ws.Header, p []byte) bool {
	if c.closingFlag.Load() {
		// After our close frame only the client's answer matters.
		if h.Op == ws.OpClose {
			c.closeNow()
			return false
		}
		return true
	}
	switch h.Op {
	case ws.OpPing:
		c.queueControl(ws.OpPong, p)
		return true
	case ws.OpPong:
		return true
	case ws.OpClose:
		code, _, err := ws.ParseClose(p)
		switch {
		case err != nil:
			code = ws.StatusProtocolError
		case code == ws.StatusNoStatus:
			code = ws.StatusNormalClosure
		}
		// The client sends nothing after its close frame: answer it and
		// close the socket once the answer is written.
		c.mu.Lock()
		c.dropAfter = true
		if !c.closing {
			c.startClosingLocked(code, "")
		}
		c.mu.Unlock()
		return false
	case ws.OpText:
		c.s.m.badFrames.Inc()
		c.fail(wire.Code_BAD_REQUEST, "frames must be binary protobuf", ws.StatusUnsupportedData)
		return true
	case ws.OpBinary:
		if c.fragging {
			c.fail(wire.Code_BAD_REQUEST, "a new message began inside a fragmented one", ws.StatusProtocolError)
			return true
		}
		if h.Fin {
			return c.message(p)
		}
		c.fragging = true
		return c.appendFrag(p)
	default: // continuation
		if !c.fragging {
			c.fail(wire.Code_BAD_REQUEST, "a continuation frame outside a fragmented message", ws.StatusProtocolError)
			return true
		}
		if !c.appendFrag(p) {
			return false
		}
		if !h.Fin {
			return true
		}
		msg := c.frag
		c.frag, c.fragging = nil, false
		c.frameStart = time.Time{}
		ok := c.message(msg)
		c.setCharge(c.charged - int64(cap(msg)))
		return ok
	}
}

// frameLimit is the largest frame (or fragmented message) this connection
// may send now: small until it has authenticated or gone anonymous.
func (c *conn) frameLimit() int {
	if c.open {
		return wire.MaxClientFrameBytes
	}
	return preAuthFrameBytes
}

func (c *conn) tooLarge() string {
	if c.open {
		return fmt.Sprintf("message over the %d-byte size limit; keep frames under Limits.max_frame_bytes", wire.MaxClientFrameBytes)
	}
	return fmt.Sprintf("frame over the %d-byte limit before authentication: Hello, Authenticate and Register are small", preAuthFrameBytes)
}

// appendFrag adds p to the fragmented message being assembled, within the
// frame limit and the frame budget; false if the connection reads no more.
func (c *conn) appendFrag(p []byte) bool {
	n := len(c.frag) + len(p)
	if n > c.frameLimit() {
		c.s.m.badFrames.Inc()
		c.failBroken(wire.Code_TOO_LARGE, c.tooLarge(), ws.StatusMessageTooBig)
		return false
	}
	if n > cap(c.frag) {
		size := min(max(n, 2*cap(c.frag), 512), c.frameLimit())
		if !c.setCharge(c.charged + int64(size-cap(c.frag))) {
			c.overBudget()
			return false
		}
		nb := make([]byte, len(c.frag), size)
		copy(nb, c.frag)
		c.frag = nb
	}
	c.frag = append(c.frag, p...)
	return true
}

// queueControl queues a control frame (a pong). At most one pong waits to
// be written, the answer to the most recent ping (RFC 6455 allows that): a
// client that sends pings and does not read the answers would otherwise
// make the server buffer them without bound (pings take no request slot).
func (c *conn) queueControl(op ws.Opcode, p []byte) {
	c.mu.Lock()
	if !c.closing {
		if c.pongLen > 0 { // replace the pong still waiting
			c.out = append(c.out[:c.pongAt], c.out[c.pongAt+c.pongLen:]...)
		}
		c.pongAt = len(c.out)
		c.out = ws.AppendFrame(c.out, op, p, nil)
		c.pongLen = len(c.out) - c.pongAt
		c.kickLocked()
	}
	c.mu.Unlock()
}

// message handles one complete client message: Hello first, then
// requests. False when the connection reads no more.
func (c *conn) message(data []byte) bool {
	if !c.helloed {
		c.helloed = true
		return c.handshake(data)
	}
	f, err := decodeRequest(data)
	if err != nil || f.GetRequest() == nil {
		c.s.m.badFrames.Inc()
		c.fail(wire.Code_BAD_REQUEST, "malformed frame: after Hello a client sends only Request frames", ws.StatusUnsupportedData)
		return true
	}
	if !c.takeSlot() {
		return false
	}
	req := f.GetRequest()
	if e := c.takeRequest(req); e != nil {
		c.s.m.rateLimited.Inc()
		c.replyErr(req.GetId(), e)
		return true
	}
	c.handle(req)
	return true
}

// takeSlot waits until fewer than MaxInflight requests are unanswered, then
// counts one more; false if the connection closed meanwhile.
func (c *conn) takeSlot() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.inflight >= c.s.cfg.MaxInflight {
		if c.closed {
			return false
		}
		if c.slotFree == nil {
			c.slotFree = make(chan struct{})
		}
		ch := c.slotFree
		c.mu.Unlock()
		<-ch
		c.mu.Lock()
	}
	if c.closed {
		return false
	}
	c.inflight++
	return true
}

// handshake reads Hello and answers Welcome.
func (c *conn) handshake(data []byte) bool {
	f, err := wire.Decode(data, wire.MaxClientFrameBytes)
	if err != nil || f.GetHello() == nil {
		c.s.m.badFrames.Inc()
		c.fail(wire.Code_BAD_REQUEST, "the first frame must be a Hello", ws.StatusPolicyViolation)
		return true
	}
	ok := false
	for _, v := range f.GetHello().GetVersions() {
		ok = ok || v == wire.Version
	}
	if !ok {
		c.fail(wire.Code_UNSUPPORTED_VERSION, "this server speaks protocol version 1 only; upgrade the client", ws.StatusPolicyViolation)
		return true
	}
	if f.GetHello().GetAnonymous() {
		c.goAnonymous()
	}
	welcome := &wire.Welcome{
		Version:           wire.Version,
		Challenge:         c.challenge,
		ServerTime:        c.s.now().Unix(),
		ServerCertificate: c.s.serverCertificateBytes(),
		Limits: &wire.Limits{
			MaxMessageBytes:     wire.MaxMessageBytes,
			MaxFrameBytes:       wire.MaxClientFrameBytes,
			MaxPrekeysPerUpload: wire.MaxPreKeysPerUpload,
			MessageTtlSeconds:   uint32(c.s.cfg.MessageTTL / time.Second),
			MaxInflightRequests: uint32(c.s.cfg.MaxInflight),
			MaxBlobBytes:        c.s.maxBlobBytes(),
		},
	}
	f = &wire.Frame{Body: &wire.Frame_Welcome{Welcome: welcome}}
	c.mu.Lock()
	if !c.closing {
		c.out = appendProtoFrame(c.out, f)
		c.kickLocked()
	}
	c.mu.Unlock()
	return true
}
