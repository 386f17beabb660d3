package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skymsg/sky/internal/testenv"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/server/store/postgres"
	"github.com/skymsg/sky/wire"
)

// TestCrash is acceptance test 17: skyd is SIGKILLed again and again while
// clients send. Every message the server acknowledged must be delivered,
// nothing may be delivered that was not sent, no message twice (after
// deduplication by ID), and each sender's order must hold.
func TestCrash(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { crashTest(t, "--data", t.TempDir()) })
	t.Run("postgres", func(t *testing.T) { crashTest(t, "--db", postgres.TestDatabase(t)) })
}

const crashSenders = 3

func crashTest(t *testing.T, storeArgs ...string) {
	kills := 20
	if testing.Short() {
		kills = 5
	}
	addr := testenv.FreeAddr(t) // kept through restarts
	args := append([]string{"--listen", addr, "--metrics-listen", ""}, storeArgs...)
	p := startSkyd(t, args...)
	url := p.until(t, servingRE)[1]
	// Admin commands open only an existing data directory: serve made it.
	out, stderr, rc := skydAdmin(t, append(storeArgs, "codes", "create", "--days", "30", "--count", strconv.Itoa(crashSenders+1))...)
	if rc != 0 {
		t.Fatalf("codes create: %s", stderr)
	}
	codes := strings.Fields(out)

	devs := make([]*servertest.Device, len(codes))
	for i, code := range codes {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := servertest.Dial(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		if devs[i], err = c.Register(ctx, code); err != nil {
			t.Fatal(err)
		}
		c.Close()
		cancel()
	}
	recv, senders := devs[0], devs[1:]

	h := newHistory()
	recvCtx, stopRecv := context.WithCancel(context.Background())
	sendCtx, stopSend := context.WithCancel(context.Background())
	var recvWG, sendWG sync.WaitGroup
	recvWG.Add(1)
	go func() { defer recvWG.Done(); receive(recvCtx, []string{url}, 0, recv, h) }()
	for i, d := range senders {
		sendWG.Add(1)
		go func() { defer sendWG.Done(); send(sendCtx, url, d, recv, i, h) }()
	}

	for range kills {
		time.Sleep(time.Duration(250+rand.IntN(400)) * time.Millisecond)
		p.cmd.Process.Kill() // SIGKILL
		<-p.waited
		p.waited <- nil
		p = startSkyd(t, args...)
		p.until(t, servingRE)
	}
	time.Sleep(300 * time.Millisecond)
	stopSend()
	sendWG.Wait()

	// Let the receiver catch up with everything acknowledged.
	deadline := time.Now().Add(30 * time.Second)
	for len(h.check(true)) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	stopRecv()
	recvWG.Wait()
	attempted, acked, delivered := h.counts()
	t.Logf("%d kills: %d sends attempted, %d acknowledged by skyd, %d delivered", kills, attempted, acked, delivered)
	if acked < 100 {
		t.Fatalf("only %d messages acknowledged: the test did not exercise skyd", acked)
	}
	for _, problem := range h.check(false) {
		t.Error(problem)
	}
}

// history records what the clients saw.
type history struct {
	mu        sync.Mutex
	attempted map[string]bool
	acked     map[string]bool
	ids       map[string]bool // envelope IDs seen
	delivered []string        // contents in first-delivery order, deduplicated by ID
}

func newHistory() *history {
	return &history{attempted: map[string]bool{}, acked: map[string]bool{}, ids: map[string]bool{}}
}

func (h *history) attempt(c string) { h.mu.Lock(); h.attempted[c] = true; h.mu.Unlock() }
func (h *history) ack(c string)     { h.mu.Lock(); h.acked[c] = true; h.mu.Unlock() }

func (h *history) deliver(id []byte, c string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.ids[string(id)] {
		h.ids[string(id)] = true
		h.delivered = append(h.delivered, c)
	}
}

func (h *history) counts() (int, int, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.attempted), len(h.acked), len(h.delivered)
}

// check lists violations; lostOnly checks only acked ⊆ delivered.
func (h *history) check(lostOnly bool) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	problems := h.lost()
	if lostOnly {
		return problems
	}
	return append(problems, h.misdelivered(false)...)
}

// lost lists acknowledged messages never delivered. h.mu is held.
func (h *history) lost() []string {
	var problems []string
	seen := map[string]bool{}
	for _, c := range h.delivered {
		seen[c] = true
	}
	for c := range h.acked {
		if !seen[c] {
			problems = append(problems, "acknowledged but never delivered: "+c)
		}
	}
	return problems
}

// misdelivered lists deliveries never sent, messages delivered more than
// once under different IDs, and messages delivered out of their sender's
// order (with ackedOnly, of acknowledged messages only). h.mu is held.
func (h *history) misdelivered(ackedOnly bool) []string {
	var problems []string
	seen := map[string]int{}
	for _, c := range h.delivered {
		seen[c]++
	}
	what := "message"
	if ackedOnly {
		what = "acknowledged message"
	}
	last := map[string]int{}
	for _, c := range h.delivered {
		if !h.attempted[c] {
			problems = append(problems, "delivered but never sent: "+c)
		}
		if seen[c] > 1 {
			problems = append(problems, fmt.Sprintf("delivered %d times under different IDs: %s", seen[c], c))
			seen[c] = 1
		}
		if ackedOnly && !h.acked[c] {
			continue
		}
		sender, seqStr, _ := strings.Cut(c, ":")
		seq, _ := strconv.Atoi(seqStr)
		if prev, ok := last[sender]; ok && seq <= prev {
			problems = append(problems, fmt.Sprintf("sender %s: %s %d delivered after %d", sender, what, seq, prev))
		}
		last[sender] = seq
	}
	return problems
}

// dialAuth connects d to node urls[*at], or to the next ones in turn while
// that fails (a killed or restarting node), until ctx ends; *at is left at
// the node used.
func dialAuth(ctx context.Context, urls []string, at *int, d *servertest.Device) *servertest.Client {
	for ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c, err := servertest.Dial(cctx, urls[*at%len(urls)])
		if err == nil {
			if _, err = c.Authenticate(cctx, d); err == nil {
				cancel()
				return c
			}
			c.CloseNow()
		}
		cancel()
		*at++
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

type pendingSend struct {
	content string
	ch      <-chan *wire.Response
}

// send sends "s<i>:<n>" with increasing n, every few milliseconds, without
// waiting for answers, and never retries: an unanswered send is attempted,
// not acknowledged.
func send(ctx context.Context, url string, d, to *servertest.Device, i int, h *history) {
	n, node := 0, 0
	pad := strings.Repeat("x", 200)
	for ctx.Err() == nil {
		c := dialAuth(ctx, []string{url}, &node, d)
		if c == nil {
			return
		}
		var inflight []pendingSend
		tick := time.NewTicker(10 * time.Millisecond)
		for alive := true; alive && ctx.Err() == nil; {
			select {
			case <-tick.C:
			case <-c.Done():
				alive = false
				continue
			case <-ctx.Done():
				continue
			}
			content := fmt.Sprintf("s%d:%d", i, n)
			n++
			h.attempt(content)
			ch, err := c.Start(ctx, servertest.SendRequest(to.Account, to.ID, []byte(content+":"+pad)))
			if err != nil {
				break
			}
			inflight = append(inflight, pendingSend{content, ch})
			// Collect answers that have arrived.
			for len(inflight) > 0 {
				select {
				case r, ok := <-inflight[0].ch:
					if ok && r.GetSent() != nil {
						h.ack(inflight[0].content)
					}
					inflight = inflight[1:]
					continue
				default:
				}
				break
			}
		}
		tick.Stop()
		// Answers that arrived before the connection ended still count.
		wait := time.After(2 * time.Second)
		for _, ps := range inflight {
			select {
			case r, ok := <-ps.ch:
				if ok && r.GetSent() != nil {
					h.ack(ps.content)
				}
			case <-c.Done():
			case <-wait:
			}
		}
		c.CloseNow()
	}
}

// receive records every pushed envelope and acknowledges it; when its node
// (urls[node]) dies it moves to the next one.
func receive(ctx context.Context, urls []string, node int, d *servertest.Device, h *history) {
	for ctx.Err() == nil {
		c := dialAuth(ctx, urls, &node, d)
		if c == nil {
			return
		}
		var ids [][]byte
		for {
			e, err := c.Next(ctx)
			if err != nil {
				break
			}
			content, _, _ := strings.Cut(string(servertest.Open(e.GetContent())), ":x")
			h.deliver(e.GetId(), content)
			ids = append(ids, e.GetId())
			if len(c.Pushes) == 0 || len(ids) >= 128 {
				c.Start(ctx, servertest.AckRequest(ids...))
				ids = nil
			}
		}
		c.CloseNow()
		node++
	}
}

// TestCrashChecker shows the checker catches each kind of fault.
func TestCrashChecker(t *testing.T) {
	for name, tc := range map[string]struct {
		attempt, ack []string
		deliver      [][2]string // id, content
		want         string
	}{
		"lost":       {[]string{"s0:0", "s0:1"}, []string{"s0:0", "s0:1"}, [][2]string{{"a", "s0:0"}}, "acknowledged but never delivered: s0:1"},
		"invented":   {nil, nil, [][2]string{{"a", "s0:0"}}, "delivered but never sent"},
		"duplicated": {[]string{"s0:0"}, nil, [][2]string{{"a", "s0:0"}, {"b", "s0:0"}}, "delivered 2 times"},
		"reordered":  {[]string{"s0:0", "s0:1"}, nil, [][2]string{{"a", "s0:1"}, {"b", "s0:0"}}, "message 0 delivered after 1"},
		"fine":       {[]string{"s0:0", "s0:1", "s1:0"}, []string{"s0:0"}, [][2]string{{"a", "s0:0"}, {"b", "s1:0"}, {"a", "s0:0"}, {"c", "s0:1"}}, ""},
	} {
		h := newHistory()
		for _, c := range tc.attempt {
			h.attempt(c)
		}
		for _, c := range tc.ack {
			h.ack(c)
		}
		for _, d := range tc.deliver {
			h.deliver([]byte(d[0]), d[1])
		}
		got := strings.Join(h.check(false), "; ")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: problems %q, want one mentioning %q", name, got, tc.want)
		}
	}
	// checkAcked requires the order of acknowledged messages only.
	h := newHistory()
	for _, c := range []string{"s0:0", "s0:1", "s0:2"} {
		h.attempt(c)
	}
	h.ack("s0:0")
	h.deliver([]byte("a"), "s0:1")
	h.deliver([]byte("b"), "s0:0")
	if got := h.checkAcked(); len(got) != 0 {
		t.Errorf("checkAcked: problems %q with an unacknowledged message early", got)
	}
	h.ack("s0:2")
	h.deliver([]byte("c"), "s0:2")
	h.deliver([]byte("d"), "s0:0")
	if got := strings.Join(h.checkAcked(), "; "); !strings.Contains(got, "acknowledged message 0 delivered after 2") || !strings.Contains(got, "delivered 2 times") {
		t.Errorf("checkAcked: problems %q, want the acknowledged message 0 after 2 and twice", got)
	}
}
