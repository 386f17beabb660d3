package server

import (
	"errors"
	"os"
	"sync"
	"time"

	"github.com/skymsg/sky/server/ws"
	"github.com/skymsg/sky/wire"
)

const (
	// readBufSize is the pooled read buffer: many pipelined requests fit
	// in one read. Bigger frames get a buffer of their own.
	readBufSize = 16 << 10
	// frameTimeout bounds how long a client may take to finish a frame it
	// has started sending.
	frameTimeout = 30 * time.Second
)

var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// getReadBuf returns a buffer of at least n bytes.
func getReadBuf(n int) []byte {
	if n > readBufSize {
		return make([]byte, n)
	}
	return *readBufs.Get().(*[]byte)
}

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
	deadline := false
	for {
		need, ok := c.parse()
		if !ok {
			c.stopReading(false)
			return
		}
		if c.rbuf == nil {
			c.rbuf = getReadBuf(need)
		} else if need > len(c.rbuf) {
			nb := make([]byte, need)
			copy(nb, c.rbuf[:c.rlen])
			putReadBuf(c.rbuf)
			c.rbuf = nb
		}
		switch {
		case c.rlen > 0:
			c.nc.SetReadDeadline(time.Now().Add(frameTimeout))
			deadline = true
		case parkable:
			c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.IdleAfter))
			deadline = true
		case deadline:
			c.nc.SetReadDeadline(time.Time{})
			deadline = false
		}
		n, err := c.nc.Read(c.rbuf[c.rlen:])
		c.rlen += n
		if err == nil || n > 0 {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && c.rlen == 0 && parkable {
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

// park gives back the read buffer and arms the poller; false if the
// connection must keep reading instead. On true the caller's goroutine
// must end without touching the connection.
func (c *conn) park() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	putReadBuf(c.rbuf)
	c.rbuf, c.rlen = nil, 0
	if err := c.s.poller.Arm(&c.reg, c.rc, c); err != nil {
		return false
	}
	c.reading = false
	return true
}

// stopReading ends the reading goroutine (closing the socket if drop).
func (c *conn) stopReading(drop bool) {
	if drop {
		c.closeNow()
	}
	putReadBuf(c.rbuf)
	c.rbuf, c.rlen, c.frag = nil, 0, nil
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
		h, n, err := ws.ParseHeader(b, wire.MaxClientFrameBytes)
		if err != nil {
			c.s.m.badFrames.Inc()
			if errors.Is(err, ws.ErrTooBig) {
				c.failBroken(wire.Code_TOO_LARGE, "frame over the size limit; keep frames under Limits.max_frame_bytes", ws.StatusMessageTooBig)
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
		c.frag = append(c.frag[:0], p...)
		return true
	default: // continuation
		if !c.fragging {
			c.fail(wire.Code_BAD_REQUEST, "a continuation frame outside a fragmented message", ws.StatusProtocolError)
			return true
		}
		if len(c.frag)+len(p) > wire.MaxClientFrameBytes {
			c.s.m.badFrames.Inc()
			c.fail(wire.Code_TOO_LARGE, "message over the size limit; keep frames under Limits.max_frame_bytes", ws.StatusMessageTooBig)
			c.frag, c.fragging = nil, false
			return true
		}
		c.frag = append(c.frag, p...)
		if !h.Fin {
			return true
		}
		msg := c.frag
		c.frag, c.fragging = nil, false
		return c.message(msg)
	}
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
	f, err := wire.Decode(data, wire.MaxClientFrameBytes)
	if err != nil || f.GetRequest() == nil {
		c.s.m.badFrames.Inc()
		c.fail(wire.Code_BAD_REQUEST, "malformed frame: after Hello a client sends only Request frames", ws.StatusUnsupportedData)
		return true
	}
	if !c.takeSlot() {
		return false
	}
	req := f.GetRequest()
	if wait, ok := take(c.limiter, c.s.now()); !ok {
		c.s.m.rateLimited.Inc()
		c.replyErr(req.GetId(), rateLimited("this connection sends requests too fast", wait))
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
