package loadgen

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/wire"
)

// LoadConfig describes a delivery load: pairs of a sender and a receiver,
// each sender sending to its receiver, each receiver acknowledging what it
// gets, as a real client does. Senders send as Sky's clients do: sealed,
// on an anonymous connection, with the receiver's delivery token (which
// the receiver sets up first); the server learns no sender. The server's
// sealed limits must allow the load (skyd serve --sealed-rate,
// --recipient-rate, --anonymous-lifetime, and --queue-cap: one anonymous
// connection may queue at most a tenth of it for one recipient).
type LoadConfig struct {
	Senders, Receivers []Device // one pair per index
	// Rate is the total messages per second over all senders; zero sends
	// as fast as the server answers (closed loop, Window per sender).
	Rate float64
	// Window is the most unanswered sends per sender (at most the
	// server's Limits.max_inflight_requests).
	Window int
	// Size is the content length of each message: one of the sealed
	// sizes (wire.SealedSizes), as every sealed envelope is; the send time
	// and the run's nonce travel in the first 16 bytes.
	Size int
	// Warmup runs before measuring; Duration is measured.
	Warmup, Duration time.Duration
	// Drain is how long to wait at the end for messages still on their way.
	Drain time.Duration
}

// Result is what a load run measured.
type Result struct {
	Elapsed   time.Duration // the measured window
	Delivered int64         // messages received in the window
	Sent      int64         // sends acknowledged in the window
	// Latency percentiles of send-to-deliver (the time a message was sent,
	// or due under a fixed rate, to its arrival at the receiver) over the
	// messages sent in the window.
	Latency   Percentiles
	Errors    int64  // refused sends and failed acknowledgements
	FirstErr  string // the first of them
	Lost      int64  // acknowledged sends never delivered before Drain ran out
	Connected int    // pairs that took part
}

// Percentiles of a latency distribution.
type Percentiles struct {
	Count                         int
	P50, P90, P99, P999, Max, Min time.Duration
}

// percentiles computes Percentiles of samples (sorted in place).
func percentiles(samples []time.Duration) Percentiles {
	if len(samples) == 0 {
		return Percentiles{}
	}
	slices.Sort(samples)
	at := func(q float64) time.Duration { return samples[min(len(samples)-1, int(q*float64(len(samples))))] }
	return Percentiles{Count: len(samples), P50: at(0.50), P90: at(0.90), P99: at(0.99), P999: at(0.999), Min: samples[0], Max: samples[len(samples)-1]}
}

// MinSize is the smallest message a load run sends.
const MinSize = 16

// run is the shared state of one load run.
type run struct {
	cfg        LoadConfig
	base       time.Time // timestamps in messages are nanoseconds since base
	nonce      uint64    // marks this run's messages
	from, to   time.Duration
	stop       chan struct{}
	errors     atomic.Int64
	firstErr   atomic.Pointer[string]
	delivered  atomic.Int64
	sentInWin  atomic.Int64
	latencies  [][]time.Duration // per receiver
	sentOK     []atomic.Int64    // per pair: sends acknowledged
	received   []atomic.Int64    // per pair: messages received
	outstandng []atomic.Int64    // per pair: sends not yet answered
}

func (r *run) now() time.Duration { return time.Since(r.base) }

func (r *run) inWindow(t time.Duration) bool { return t >= r.from && t < r.to }

func (r *run) fail(err error) {
	r.errors.Add(1)
	s := err.Error()
	r.firstErr.CompareAndSwap(nil, &s)
}

// RunLoad connects the pairs, runs the load and reports what it measured.
func RunLoad(ctx context.Context, d *Dialer, cfg LoadConfig) (*Result, error) {
	n := len(cfg.Senders)
	if n == 0 || len(cfg.Receivers) != n {
		return nil, errors.New("loadgen: need as many receivers as senders, at least one")
	}
	if !wire.IsSealedSize(cfg.Size) {
		return nil, fmt.Errorf("loadgen: message size %d is not a sealed size (%v bytes): sealed messages are padded to one", cfg.Size, wire.SealedSizes)
	}
	cfg.Window = max(cfg.Window, 1)
	if cfg.Drain <= 0 {
		cfg.Drain = 10 * time.Second
	}
	senders := make([]*Conn, n)
	receivers := make([]*Conn, n)
	defer func() {
		for i := range n {
			if senders[i] != nil {
				senders[i].Close()
			}
			if receivers[i] != nil {
				receivers[i].Close()
			}
		}
	}()
	tokens := make([][]byte, n)
	for i := range n {
		var err error
		if receivers[i], err = dialAuth(ctx, d, cfg.Receivers[i]); err != nil {
			return nil, fmt.Errorf("receiver %d: %w", i, err)
		}
		if err := receivers[i].SetDeliveryToken(ctx, cfg.Receivers[i]); err != nil {
			return nil, fmt.Errorf("receiver %d: setting its delivery token: %w", i, err)
		}
		tokens[i] = DeliveryToken(cfg.Receivers[i])
		if senders[i], err = dialAnonymous(ctx, d); err != nil {
			return nil, fmt.Errorf("sender %d: %w", i, err)
		}
	}
	// Let backlogs from earlier runs arrive before measuring: receivers
	// acknowledge everything, only messages stamped in this run count.
	r := &run{
		cfg: cfg, base: time.Now(), nonce: rand.Uint64(), stop: make(chan struct{}),
		latencies: make([][]time.Duration, n), sentOK: make([]atomic.Int64, n),
		received: make([]atomic.Int64, n), outstandng: make([]atomic.Int64, n),
	}
	r.from, r.to = cfg.Warmup, cfg.Warmup+cfg.Duration
	var recvWG, sendWG sync.WaitGroup
	for i := range n {
		recvWG.Add(1)
		go func() { defer recvWG.Done(); r.receive(i, receivers[i]) }()
		sendWG.Add(1)
		go func() { defer sendWG.Done(); r.send(i, senders[i], cfg.Receivers[i], tokens[i], n) }()
	}
	select {
	case <-time.After(r.to):
	case <-ctx.Done():
	}
	close(r.stop)
	sendWG.Wait() // every send answered (or its connection gone)
	// Wait for the messages still on their way, then stop the receivers.
	deadline := time.Now().Add(cfg.Drain)
	for time.Now().Before(deadline) && !r.allReceived() {
		time.Sleep(10 * time.Millisecond)
	}
	var lost int64
	for i := range n {
		lost += max(0, r.sentOK[i].Load()-r.received[i].Load())
		receivers[i].Close()
	}
	recvWG.Wait()
	var all []time.Duration
	for _, l := range r.latencies {
		all = append(all, l...)
	}
	res := &Result{
		Elapsed:   cfg.Duration,
		Delivered: r.delivered.Load(),
		Sent:      r.sentInWin.Load(),
		Latency:   percentiles(all),
		Errors:    r.errors.Load(),
		Lost:      lost,
		Connected: n,
	}
	if p := r.firstErr.Load(); p != nil {
		res.FirstErr = *p
	}
	return res, ctx.Err()
}

func (r *run) allReceived() bool {
	for i := range r.sentOK {
		if r.received[i].Load() < r.sentOK[i].Load() {
			return false
		}
	}
	return true
}

func dialAuth(ctx context.Context, d *Dialer, dev Device) (*Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := d.Dial(cctx)
	if err != nil {
		return nil, err
	}
	if err := c.Authenticate(cctx, dev); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func dialAnonymous(ctx context.Context, d *Dialer) (*Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return d.DialAnonymous(cctx)
}

// maxPerWrite bounds the sends encoded into one write.
const maxPerWrite = 64

// send runs one sender: a writer paced by the rate (or by answers, in a
// closed loop) and a reader of the answers.
func (r *run) send(i int, c *Conn, to Device, token []byte, pairs int) {
	credits := make(chan struct{}, r.cfg.Window)
	for range r.cfg.Window {
		credits <- struct{}{}
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		r.readAnswers(i, c, credits)
	}()
	content := make([]byte, r.cfg.Size)
	binary.LittleEndian.PutUint64(content[8:], r.nonce)
	for j := MinSize; j < len(content); j++ {
		content[j] = byte(j * 131)
	}
	var buf []byte
	perSender := r.cfg.Rate / float64(pairs)
	var sent int64
	for {
		// How many to send now, and the time to stamp them with.
		due := maxPerWrite
		var stamp func(k int) time.Duration
		if perSender > 0 {
			now := r.now()
			due = int(int64(now.Seconds()*perSender) - sent)
			if due <= 0 {
				next := time.Duration(float64(sent+1) / perSender * float64(time.Second))
				select {
				case <-time.After(next - now):
				case <-r.stop:
					goto done
				}
				continue
			}
			due = min(due, maxPerWrite)
			first := sent
			// Under a fixed rate a message is stamped with the time it was
			// due, so a server that falls behind shows as latency.
			stamp = func(k int) time.Duration {
				return time.Duration(float64(first+int64(k)+1) / perSender * float64(time.Second))
			}
		}
		// Take one credit (waiting), then as many more as are free.
		select {
		case <-credits:
		case <-r.stop:
			goto done
		}
		got := 1
	more:
		for got < due {
			select {
			case <-credits:
				got++
			default:
				break more
			}
		}
		buf = buf[:0]
		now := r.now()
		for k := range got {
			t := now
			if stamp != nil {
				t = stamp(k)
			}
			binary.LittleEndian.PutUint64(content, uint64(t))
			buf = c.appendSend(buf, to, token, content)
		}
		r.outstandng[i].Add(int64(got))
		sent += int64(got)
		if _, err := c.nc.Write(buf); err != nil {
			r.fail(fmt.Errorf("sender %d: %w", i, err))
			goto done
		}
	}
done:
	// Wait for the answers to what is outstanding, or the reader's end.
	deadline := time.After(r.cfg.Drain)
	for r.outstandng[i].Load() > 0 {
		select {
		case <-readDone:
			return
		case <-deadline:
			c.Close()
			<-readDone
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
	c.Close()
	<-readDone
}

// readAnswers reads a sender's responses, returning a credit for each.
func (r *run) readAnswers(i int, c *Conn, credits chan struct{}) {
	for {
		p, err := c.nextData()
		if err != nil {
			if r.outstandng[i].Load() > 0 {
				select {
				case <-r.stop:
				default:
					r.fail(fmt.Errorf("sender %d: %w", i, err))
				}
			}
			return
		}
		num, body, err := parseFrame(p)
		if err != nil {
			r.fail(err)
			continue
		}
		switch num {
		case frameResponse:
			failed := false
			eachField(body, func(f protowire.Number, _ uint64, _ []byte) {
				failed = failed || f == responseError
			})
			if failed {
				r.fail(responseErr(p))
			} else {
				r.sentOK[i].Add(1)
				if r.inWindow(r.now()) {
					r.sentInWin.Add(1)
				}
			}
			r.outstandng[i].Add(-1)
			select {
			case credits <- struct{}{}:
			default:
			}
		case frameError:
			r.fail(responseErr(p))
		}
	}
}

// responseErr decodes a failed response or an Error frame for the report.
func responseErr(p []byte) error {
	f, err := wire.Decode(p, wire.MaxServerFrameBytes)
	if err != nil {
		return err
	}
	if e := f.GetResponse().GetError(); e != nil {
		return e
	}
	if e := f.GetError(); e != nil {
		return e
	}
	return errors.New("loadgen: unexpected server frame")
}

// receive runs one receiver: it records each message's latency and
// acknowledges every Push frame with one Ack request.
func (r *run) receive(i int, c *Conn) {
	var (
		ids [][]byte
		buf []byte
	)
	idStore := make([]byte, 0, 16*1024)
	for {
		p, err := c.nextData()
		if err != nil {
			return
		}
		num, body, err := parseFrame(p)
		if err != nil {
			r.fail(err)
			continue
		}
		switch num {
		case framePush:
			now := r.now()
			ids, idStore = ids[:0], idStore[:0]
			perr := eachField(body, func(f protowire.Number, _ uint64, env []byte) {
				if f != pushEnvelopes {
					return
				}
				var id, content []byte
				eachField(env, func(g protowire.Number, _ uint64, v []byte) {
					switch g {
					case envelopeID:
						id = v
					case envelopeContent:
						content = v
					}
				})
				if len(id) > 0 {
					idStore = append(idStore, id...)
					ids = append(ids, idStore[len(idStore)-len(id):])
				}
				if len(content) < MinSize || binary.LittleEndian.Uint64(content[8:]) != r.nonce {
					return // from an earlier run: acknowledged, not counted
				}
				sentAt := time.Duration(binary.LittleEndian.Uint64(content))
				r.received[i].Add(1)
				if r.inWindow(now) {
					r.delivered.Add(1)
				}
				if r.inWindow(sentAt) {
					r.latencies[i] = append(r.latencies[i], now-sentAt)
				}
			})
			if perr != nil {
				r.fail(perr)
			}
			for len(ids) > 0 {
				k := min(len(ids), wire.MaxAcksPerRequest)
				buf = c.appendAck(buf[:0], ids[:k])
				ids = ids[k:]
				if _, err := c.nc.Write(buf); err != nil {
					return
				}
			}
		case frameResponse:
			failed := false
			eachField(body, func(f protowire.Number, _ uint64, _ []byte) {
				failed = failed || f == responseError
			})
			if failed {
				r.fail(responseErr(p))
			}
		case frameError:
			r.fail(responseErr(p))
		}
	}
}
