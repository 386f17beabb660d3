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
	msg     store.NewMessage // a send, when ack and multi are nil
	ack     *store.Ack
	multi   *multiOp  // a multi-recipient send (multisend.go): several messages, one answer
	arrived time.Time // wall clock, for the send-to-push latency metric
	c       *conn
	id      uint64 // the request to answer
}

// done answers the operation's request.
func (o *op) done(err error) {
	if o.multi != nil {
		o.c.multiDone(o.id, o.multi, nil, err)
		return
	}
	if o.ack != nil {
		o.c.ackDone(o.id, err)
	} else {
		o.c.sendDone(o.id, err)
	}
}

// batcher is skyd's group commit: one goroutine takes every operation
// waiting, writes them in one store transaction, then answers them all. While
// a batch commits the next one fills up, so batches grow with load and one
// fsync covers many sends. A commit starts as soon as the previous one has
// been written, never on a timer.
//
// With a store.PipelinedQueue the batcher does not wait for a batch to be
// durable before writing the next: a finisher goroutine waits for each
// batch's fsync, in order, and only then answers its senders and pushes its
// messages, so nothing is acknowledged or delivered before it is durable.
type batcher struct {
	s  *Server
	in chan *op
}

// pipelineDepth bounds the batches written but not yet durable.
const pipelineDepth = 2

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
	pq, pipelined := b.s.st.(store.PipelinedQueue)
	var (
		toFinish chan *written
		finished chan struct{}
	)
	if pipelined {
		toFinish, finished = make(chan *written, pipelineDepth), make(chan struct{})
		go func() {
			defer close(finished)
			for w := range toFinish {
				b.finish(w)
			}
		}()
	}
	commit := func(ops []*op) {
		if !pipelined {
			b.finish(b.write(ops, nil))
			return
		}
		toFinish <- b.write(ops, pq)
	}
	for {
		var ops []*op
		select {
		case o := <-b.in:
			ops = b.fill(append(make([]*op, 0, 64), o))
		case <-b.s.ctx.Done():
			// Commit whatever is still waiting, then stop.
			for {
				if ops = b.fill(nil); len(ops) == 0 {
					break
				}
				commit(ops)
			}
			if pipelined {
				close(toFinish)
				<-finished
			}
			return
		}
		commit(ops)
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

// written is a batch written to the store, possibly not yet durable.
type written struct {
	ops      []*op
	batch    *store.Batch
	msgIndex []int // ops[i]'s message in batch.Messages, or -1 for an ack
	start    time.Time
	wait     func() error // nil once durable
	err      error
}

// write applies ops in one store transaction: durably with WriteBatch, or
// with pq's CommitBatch, leaving the wait for durability to finish.
func (b *batcher) write(ops []*op, pq store.PipelinedQueue) *written {
	s := b.s
	w := &written{ops: ops, batch: &store.Batch{QueueCap: s.cfg.QueueCap}, msgIndex: make([]int, len(ops)), start: time.Now()}
	for i, o := range ops {
		if o.ack != nil {
			w.batch.Acks = append(w.batch.Acks, *o.ack)
			w.msgIndex[i] = -1
			continue
		}
		w.msgIndex[i] = len(w.batch.Messages)
		if o.multi != nil {
			w.batch.Messages = append(w.batch.Messages, o.multi.msgs...)
			continue
		}
		w.batch.Messages = append(w.batch.Messages, o.msg)
	}
	// Not s.ctx: a shutdown must not abort a commit half way.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if pq != nil {
		w.wait, w.err = pq.CommitBatch(ctx, w.batch)
	} else {
		w.err = s.st.WriteBatch(ctx, w.batch)
	}
	return w
}

// finish waits until w is durable, then pushes its messages and answers its
// operations.
func (b *batcher) finish(w *written) {
	s := b.s
	if w.err == nil && w.wait != nil {
		w.err = w.wait()
	}
	s.m.batchSeconds.ObserveSince(w.start)
	s.m.batchSize.Observe(float64(len(w.ops)))
	if w.err != nil {
		s.log.Error("group commit failed; senders are told to retry", "err", w.err, "operations", len(w.ops))
		for _, o := range w.ops {
			o.done(w.err)
		}
		return
	}
	batch := w.batch
	live := make([]liveMessage, 0, len(batch.Messages))
	for i, o := range w.ops {
		j := w.msgIndex[i]
		if j < 0 {
			continue
		}
		if o.multi == nil {
			live = appendLive(live, batch, j, o.msg, o.arrived)
			continue
		}
		for k, m := range o.multi.msgs {
			live = appendLive(live, batch, j+k, m, o.arrived)
		}
	}
	s.m.stored.Add(uint64(len(live)))
	s.delivered(live)
	for i, o := range w.ops {
		if j := w.msgIndex[i]; j >= 0 && o.multi != nil {
			o.c.multiDone(o.id, o.multi, batch.Errs[j:j+len(o.multi.msgs)], nil)
		} else if j >= 0 {
			o.done(batch.Errs[j])
		} else {
			o.done(nil)
		}
	}
}

// appendLive adds batch message j, m, to live unless the store refused it.
func appendLive(live []liveMessage, batch *store.Batch, j int, m store.NewMessage, arrived time.Time) []liveMessage {
	if batch.Errs[j] != nil {
		return live
	}
	return append(live, liveMessage{
		Message: store.Message{Seq: batch.Seqs[j], To: m.To, Received: m.Received.Truncate(time.Second), Body: m.Body},
		arrived: arrived,
		prev:    batch.Prevs[j],
	})
}
