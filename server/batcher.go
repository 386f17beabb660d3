package server

import (
	"context"
	"time"

	"github.com/skymsg/sky/server/store"
)

// maxBatch bounds the operations in one group commit.
const maxBatch = 4096

// op is one send or one acknowledgement waiting for the next group commit.
// Once the batch has committed (or failed) the batcher answers it on c: the
// error is nil, the message's own refusal, or the store's error.
type op struct {
	msg     store.NewMessage // a send, when ack is nil
	ack     *store.Ack
	arrived time.Time // wall clock, for the send-to-push latency metric
	c       *conn
	id      uint64 // the request to answer
}

// done answers the operation's request.
func (o *op) done(err error) {
	if o.ack != nil {
		o.c.ackDone(o.id, err)
	} else {
		o.c.sendDone(o.id, err)
	}
}

// batcher is skyd's group commit: one goroutine takes every operation
// waiting, writes them in one store transaction, then answers them all. While
// a batch commits the next one fills up, so batches grow with load and one
// fsync covers many sends.
type batcher struct {
	s  *Server
	in chan *op
}

func newBatcher(s *Server) *batcher {
	return &batcher{s: s, in: make(chan *op, maxBatch)}
}

// submit queues o for the next batch; it gives up when the server stops.
func (b *batcher) submit(o *op) bool {
	select {
	case b.in <- o:
		return true
	case <-b.s.ctx.Done():
		return false
	}
}

func (b *batcher) run() {
	ops := make([]*op, 0, maxBatch)
	for {
		select {
		case o := <-b.in:
			ops = append(ops[:0], o)
		case <-b.s.ctx.Done():
			// Commit whatever is still waiting, then stop.
			for {
				ops = b.fill(ops[:0])
				if len(ops) == 0 {
					return
				}
				b.commit(ops)
			}
		}
		b.commit(b.fill(ops))
	}
}

// fill adds every waiting operation, up to maxBatch.
func (b *batcher) fill(ops []*op) []*op {
	for len(ops) < maxBatch {
		select {
		case o := <-b.in:
			ops = append(ops, o)
		default:
			return ops
		}
	}
	return ops
}

func (b *batcher) commit(ops []*op) {
	s := b.s
	batch := &store.Batch{QueueCap: s.cfg.QueueCap}
	msgIndex := make([]int, len(ops))
	for i, o := range ops {
		if o.ack != nil {
			batch.Acks = append(batch.Acks, *o.ack)
			msgIndex[i] = -1
			continue
		}
		msgIndex[i] = len(batch.Messages)
		batch.Messages = append(batch.Messages, o.msg)
	}
	start := time.Now()
	// Not s.ctx: a shutdown must not abort a commit half way.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := s.st.WriteBatch(ctx, batch)
	cancel()
	s.m.batchSeconds.ObserveSince(start)
	s.m.batchSize.Observe(float64(len(ops)))
	if err != nil {
		s.log.Error("group commit failed; senders are told to retry", "err", err, "operations", len(ops))
		for _, o := range ops {
			o.done(err)
		}
		return
	}
	live := make([]liveMessage, 0, len(batch.Messages))
	for i, o := range ops {
		j := msgIndex[i]
		if j < 0 {
			continue
		}
		if batch.Errs[j] == nil {
			m := o.msg
			live = append(live, liveMessage{
				Message: store.Message{Seq: batch.Seqs[j], To: m.To, From: m.From, Received: m.Received.Truncate(time.Second), Body: m.Body},
				arrived: o.arrived,
			})
		}
	}
	s.m.stored.Add(uint64(len(live)))
	s.delivered(live)
	for i, o := range ops {
		if j := msgIndex[i]; j >= 0 {
			o.done(batch.Errs[j])
		} else {
			o.done(nil)
		}
		ops[i] = nil
	}
}
