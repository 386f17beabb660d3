package conn

// What a hostile server can make the client hold: every frame's shape is
// checked before it is decoded (so a 1 MiB frame of empty envelopes never
// becomes half a million objects), and the pushes waiting for the owner are
// bounded by their decoded size, not only their number.

import (
	"fmt"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/skymsg/sky/wire"
)

// MaxFrameFields bounds the fields of one server frame, counted through
// every nested message: what decoding it may allocate. A full Push of
// wire.MaxPushEnvelopes envelopes needs about 7 per envelope.
const MaxFrameFields = 16 << 10

// fieldOverhead is what a decoded field is taken to cost beyond its bytes,
// in the queued-push budget.
const fieldOverhead = 64

var frameDescriptor = (&wire.Frame{}).ProtoReflect().Descriptor()

// checkFrameShape refuses a server frame that would decode to more than
// MaxFrameFields fields, or a Push of more than wire.MaxPushEnvelopes
// envelopes, without allocating. Malformed bytes are left to wire.Decode.
func checkFrameShape(b []byte) error {
	budget := MaxFrameFields
	if err := countFields(b, frameDescriptor, 0, &budget); err != nil {
		return err
	}
	if n := pushEnvelopes(b); n > wire.MaxPushEnvelopes {
		return fmt.Errorf("%w: a push of %d envelopes, over the %d one may hold (the server may be hostile)", wire.ErrMalformed, n, wire.MaxPushEnvelopes)
	}
	return nil
}

// countFields takes one from *budget for every field of b (a message of
// type md) and of the messages nested in it, and fails once it runs out.
func countFields(b []byte, md protoreflect.MessageDescriptor, depth int, budget *int) error {
	if depth > 16 {
		return fmt.Errorf("%w: nested too deep", wire.ErrMalformed)
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil // malformed: wire.Decode says so
		}
		b = b[n:]
		if *budget--; *budget < 0 {
			return fmt.Errorf("%w: a frame of more than %d fields (the server may be hostile)", wire.ErrMalformed, MaxFrameFields)
		}
		fd := md.Fields().ByNumber(num)
		if typ == protowire.BytesType && fd != nil && fd.Kind() == protoreflect.MessageKind {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil
			}
			if err := countFields(v, fd.Message(), depth+1, budget); err != nil {
				return err
			}
			b = b[n:]
			continue
		}
		if typ == protowire.BytesType && fd != nil && fd.IsPacked() {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil
			}
			// Each packed element is a value (at least one byte).
			if *budget -= len(v); *budget < 0 {
				return fmt.Errorf("%w: a frame of more than %d fields (the server may be hostile)", wire.ErrMalformed, MaxFrameFields)
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return nil
		}
		b = b[n:]
	}
	return nil
}

// pushEnvelopes counts the envelopes of b if it is a Push frame.
func pushEnvelopes(b []byte) int {
	count := 0
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return count
		}
		b = b[n:]
		if num == 5 && typ == protowire.BytesType { // Frame.push
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return count
			}
			for len(v) > 0 {
				en, et, k := protowire.ConsumeTag(v)
				if k < 0 {
					break
				}
				v = v[k:]
				if en == 1 { // Push.envelopes
					count++
				}
				if k = protowire.ConsumeFieldValue(en, et, v); k < 0 {
					break
				}
				v = v[k:]
			}
			b = b[m:]
			continue
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return count
		}
		b = b[n:]
	}
	return count
}

// decodedSize is what a push is taken to cost in memory once decoded,
// fields this version does not know (kept by the decoder) included.
func decodedSize(envs []*wire.Envelope) int {
	n := 0
	for _, e := range envs {
		n += len(e.GetId()) + len(e.GetContent()) + len(e.ProtoReflect().GetUnknown()) + 4*fieldOverhead
	}
	return n
}

// queuedPush is a push on its way to the owner, with its decoded size.
type queuedPush struct {
	envs []*wire.Envelope
	size int
}

// pushBudget counts the decoded bytes of pushes read and not yet taken by
// the owner.
type pushBudget struct {
	mu    sync.Mutex
	bytes int
	freed chan struct{} // signalled when bytes go down
}

// take reserves size bytes, waiting while the pushes already waiting hold
// the budget; false if quit closed first.
func (q *pushBudget) take(size int, quit <-chan struct{}) bool {
	for {
		q.mu.Lock()
		if q.bytes == 0 || q.bytes+size <= MaxQueuedPushBytes {
			q.bytes += size
			q.mu.Unlock()
			return true
		}
		q.mu.Unlock()
		select {
		case <-q.freed:
		case <-quit:
			return false
		}
	}
}

func (q *pushBudget) give(size int) {
	q.mu.Lock()
	q.bytes -= size
	q.mu.Unlock()
	select {
	case q.freed <- struct{}{}:
	default:
	}
}

// held returns the decoded bytes waiting for the owner (for tests).
func (q *pushBudget) held() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}

// enqueue hands a push to forward within the budget; false once the
// connection is closed.
func (c *Conn) enqueue(envs []*wire.Envelope) bool {
	size := decodedSize(envs)
	if !c.queue.take(size, c.quit) {
		return false
	}
	select {
	case c.queued <- queuedPush{envs, size}:
		return true
	case <-c.quit:
		return false
	}
}

// forward hands queued pushes to the owner, in order, and frees their
// budget once taken.
func (c *Conn) forward() {
	for {
		select {
		case p := <-c.queued:
			select {
			case c.pushes <- p.envs:
				c.queue.give(p.size)
			case <-c.quit:
				return
			}
		case <-c.quit:
			return
		}
	}
}
