package server

import (
	"errors"
	"os"
	"sync"
	"time"

	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/server/ws"
	"github.com/skymsg/sky/wire"
)

const (
	// writeBufSize is the pooled write buffer's starting capacity.
	writeBufSize = 32 << 10
	// maxPooledWrite is the largest buffer given back to the pool (or
	// kept for the next write): a few largest Pushes, or a client's window
	// of attachment chunks (8 of 256 KiB), fit, so a download does not
	// grow a new buffer for every chunk.
	maxPooledWrite = 4 << 20
)

var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, writeBufSize); return &b }}

func getWriteBuf() []byte { return (*writeBufs.Get().(*[]byte))[:0] }

func putWriteBuf(b []byte) {
	if cap(b) >= writeBufSize && cap(b) <= maxPooledWrite {
		b = b[:0]
		writeBufs.Put(&b)
	}
}

// ensureOutLocked gives out a pooled buffer before frames are appended, so
// that it does not grow from nothing. c.mu is held.
func (c *conn) ensureOutLocked() {
	if c.out == nil {
		c.out = getWriteBuf()
	}
}

// kickLocked starts the writer goroutine unless it runs already or there is
// nothing to write. c.mu is held.
func (c *conn) kickLocked() {
	if c.writing || c.closed || c.closeSent || (len(c.out) == 0 && !c.pushDue) {
		return
	}
	c.writing = true
	go c.writeLoop()
}

// writeLoop writes what is queued (responses, then pushes) until nothing is
// left, then ends, giving its buffers back.
func (c *conn) writeLoop() {
	for {
		c.mu.Lock()
		if c.closed || c.closeSent {
			c.writing = false
			done := c.finishLocked()
			c.mu.Unlock()
			done()
			return
		}
		buf := c.out
		c.out, c.spare = c.spare, nil
		c.pongLen = 0 // a pong in buf is on its way; the next ping queues another
		answers := c.outAnswers
		c.outAnswers = 0
		push := c.pushDue && !c.closing
		c.pushDue = false
		var (
			live  []liveMessage
			drain bool
			addr  = c.addr
		)
		if push {
			live, drain = c.live, c.needDrain
			c.live, c.liveBytes, c.needDrain = nil, 0, false
		}
		closing, dropAfter, halfClose := c.closing, c.dropAfter, c.halfClose
		if len(buf) == 0 && !push {
			c.writing = false
			putWriteBuf(buf)
			putWriteBuf(c.out)
			c.out = nil
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()

		var err error
		if push {
			if buf == nil {
				buf = getWriteBuf()
			}
			buf, err = c.appendPushes(buf, live, drain, addr)
		}
		if err == nil && len(buf) > 0 {
			err = c.writeAll(buf)
		}
		c.mu.Lock()
		c.inflight -= answers
		if c.slotFree != nil {
			close(c.slotFree)
			c.slotFree = nil
		}
		if closing && err == nil {
			c.closeSent = true
		}
		if c.spare == nil && cap(buf) <= maxPooledWrite {
			c.spare = buf[:0]
		}
		c.mu.Unlock()
		switch {
		case err != nil || (closing && dropAfter):
			c.closeNow()
		case closing && halfClose:
			if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
		}
	}
}

// writeAll writes b, dropping a client that does not take it within the
// write timeout.
func (c *conn) writeAll(b []byte) error {
	c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
	_, err := c.nc.Write(b)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		c.s.m.slowClients.Inc()
	}
	return err
}

// appendPushes appends Push frames with what is waiting for this device:
// first the store's backlog when a drain is due (after authentication or a
// live-buffer overflow, or when a live message follows one this connection
// has not pushed), then the live messages, skipping anything at or below
// the cursor. A long backlog is written page by page.
func (c *conn) appendPushes(buf []byte, live []liveMessage, drain bool, addr store.Address) ([]byte, error) {
	cutoff := c.s.cutoff()
	if drain || gap(live, c.cursor) {
		for {
			msgs, err := c.s.st.Pending(c.s.ctx, addr, c.cursor, cutoff, pushPage)
			if err != nil {
				if c.s.ctx.Err() == nil {
					c.s.log.Error("reading a queue failed; retrying", "err", err)
					c.mu.Lock()
					c.needDrain = true
					c.mu.Unlock()
					time.AfterFunc(time.Second, c.poke)
				}
				return buf, nil // live messages wait for the drain: they are in the store too
			}
			lm := make([]liveMessage, len(msgs))
			for i, m := range msgs {
				lm[i].Message = m
			}
			buf = c.appendEnvelopes(buf, lm)
			if len(msgs) < pushPage {
				break
			}
			if err := c.writeAll(buf); err != nil {
				return buf[:0], err
			}
			buf = buf[:0]
		}
	}
	fresh := live[:0]
	for _, m := range live {
		if m.Seq > c.cursor && m.Received.After(cutoff) {
			fresh = append(fresh, m)
		}
	}
	return c.appendEnvelopes(buf, fresh), nil
}

// gap reports whether pushing live after cursor would pass over a message
// queued before one of them that is not among them: one another process
// committed (see store.Batch.Prevs).
func gap(live []liveMessage, cursor uint64) bool {
	for _, m := range live {
		if m.Seq <= cursor {
			continue
		}
		if m.prev > cursor {
			return true
		}
		cursor = m.Seq
	}
	return false
}

// placeholderID stands for a message ID when only lengths are computed.
var placeholderID = make([]byte, wire.MessageIDBytes)

func pushEnvelope(m *liveMessage, id []byte) wire.PushEnvelope {
	return wire.PushEnvelope{ID: id, ServerTime: m.Received.Unix(), Content: m.Body}
}

// appendEnvelopes appends msgs as Push frames of bounded size.
func (c *conn) appendEnvelopes(buf []byte, msgs []liveMessage) []byte {
	for len(msgs) > 0 {
		fields, size, n := 0, 0, 0
		for n < len(msgs) && n < wire.MaxPushEnvelopes && (n == 0 || size+len(msgs[n].Body) <= maxPushFrame) {
			pe := pushEnvelope(&msgs[n], placeholderID)
			fields += pe.FieldLen()
			size += len(msgs[n].Body)
			n++
		}
		buf = ws.AppendHeader(buf, true, ws.OpBinary, wire.PushFrameLen(fields), nil)
		buf = wire.AppendPushPrefix(buf, fields)
		var id [wire.MessageIDBytes]byte
		for i := range n {
			m := &msgs[i]
			c.s.ids.encodeTo(&id, m.Seq)
			pe := pushEnvelope(m, id[:])
			buf = pe.AppendField(buf)
			if !m.arrived.IsZero() {
				c.s.m.deliverSeconds.ObserveSince(m.arrived)
			}
		}
		c.cursor = msgs[n-1].Seq
		c.s.m.pushed.Add(uint64(n))
		msgs = msgs[n:]
	}
	return buf
}
