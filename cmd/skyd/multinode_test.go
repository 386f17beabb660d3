package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/skymsg/sky/internal/testenv"
	"github.com/skymsg/sky/server/cluster"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/server/store/postgres"
	"github.com/skymsg/sky/wire"
)

// nodes is a cluster of skyd processes on one fresh PostgreSQL database and
// one fresh cluster name on NATS, each on a fixed loopback port so it can be
// restarted where its clients expect it.
type nodes struct {
	t     testing.TB
	args  [][]string
	procs []*proc
	urls  []string
	db    string
}

func startNodes(t testing.TB, n int) *nodes {
	t.Helper()
	return startNodesWith(t, n, true)
}

// startNodesWith starts n nodes with extra flags; without joinNATS they do
// not join a cluster (a one-node baseline).
func startNodesWith(t testing.TB, n int, joinNATS bool, extra ...string) *nodes {
	t.Helper()
	ns := &nodes{t: t, db: postgres.TestDatabase(t)}
	var clusterArgs []string
	if joinNATS {
		clusterArgs = []string{"--nats", cluster.TestURL, "--cluster", cluster.TestName(t)}
	}
	for range n {
		addr := testenv.FreeAddr(t) // kept through restarts
		args := append([]string{"--listen", addr, "--metrics-listen", "", "--db", ns.db}, clusterArgs...)
		ns.args = append(ns.args, append(args, extra...))
		ns.urls = append(ns.urls, "ws://"+addr+"/v1/websocket")
	}
	// Migrate once, so the nodes do not all wait on the same lock, and
	// certify the cluster for sealed sender as an operator would: every
	// node serves the certificate kept in the database.
	ns.admin("accounts", "list")
	root := filepath.Join(t.TempDir(), "trust-root.key")
	if out, err := exec.Command(skydBin, "admin", "trust-root", "init", "--out", root).CombinedOutput(); err != nil {
		t.Fatalf("skyd admin trust-root init: %v\n%s", err, out)
	}
	ns.admin("trust-root", "certify", "--key", root)
	ns.procs = make([]*proc, n)
	for i := range n {
		ns.start(i)
	}
	return ns
}

func (ns *nodes) start(i int) {
	ns.t.Helper()
	p := startSkyd(ns.t, ns.args[i]...)
	p.until(ns.t, servingRE)
	ns.procs[i] = p
}

// kill SIGKILLs node i and waits until it is gone.
func (ns *nodes) kill(i int) {
	p := ns.procs[i]
	p.cmd.Process.Kill()
	p.waited <- <-p.waited // leave the result for the test's cleanup
}

// admin runs `skyd admin --db DB args…` and returns its output.
func (ns *nodes) admin(args ...string) string {
	ns.t.Helper()
	out, err := exec.Command(skydBin, append([]string{"admin", "--db", ns.db}, args...)...).Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		ns.t.Fatalf("skyd admin %v: %s", args, msg)
	}
	return string(out)
}

// devices registers n devices through the nodes in turn, waiting out the
// cluster-wide registration limit (5/s after a burst of 20).
func (ns *nodes) devices(n int) []*servertest.Device {
	ns.t.Helper()
	out := ns.admin("codes", "create", "--days", "30", "--count", strconv.Itoa(n))
	var devs []*servertest.Device
	for i, code := range strings.Fields(out) {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c, err := servertest.Dial(ctx, ns.urls[i%len(ns.urls)])
			if err != nil {
				ns.t.Fatal(err)
			}
			d, err := c.Register(ctx, code)
			c.Close()
			cancel()
			if errors.Is(err, wire.ErrRateLimited) {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			if err != nil {
				ns.t.Fatal(err)
			}
			devs = append(devs, d)
			break
		}
	}
	return devs
}

// stallAfter is how long a client waits for a node's answer before it
// takes the node for dead and moves to the next one.
const stallAfter = 2 * time.Second

// clusterSend sends "s<i>:<n>" to to, with increasing n, every few
// milliseconds, pipelined, never retried: an unanswered send counts as
// attempted only. When its node dies or stops answering it moves on.
func clusterSend(ctx context.Context, urls []string, node int, d, to *servertest.Device, i int, h *history) {
	n := 0
	pad := strings.Repeat("x", 200)
	for ctx.Err() == nil {
		c := dialAuth(ctx, urls, &node, d)
		if c == nil {
			return
		}
		var mu sync.Mutex
		var answers sync.WaitGroup
		started := map[string]time.Time{} // unanswered sends
		tick := time.NewTicker(5 * time.Millisecond)
		for alive := true; alive && ctx.Err() == nil; {
			select {
			case <-tick.C:
			case <-c.Done():
				alive = false
				continue
			case <-ctx.Done():
				continue
			}
			mu.Lock()
			stalled := false
			for _, at := range started {
				stalled = stalled || time.Since(at) > stallAfter
			}
			mu.Unlock()
			if stalled {
				break
			}
			content := fmt.Sprintf("s%d:%d", i, n)
			n++
			h.attempt(content)
			ch, err := c.Start(ctx, servertest.SendRequest(to.Account, to.ID, []byte(content+":"+pad)))
			if err != nil {
				break
			}
			mu.Lock()
			started[content] = time.Now()
			mu.Unlock()
			answers.Add(1)
			go func() {
				defer answers.Done()
				r, ok := <-ch
				if ok && r.GetSent() != nil {
					h.ack(content)
				}
				mu.Lock()
				delete(started, content)
				mu.Unlock()
			}()
		}
		tick.Stop()
		c.CloseNow()
		answers.Wait() // answers already read still count
		node++
	}
}

// traffic is senders and receivers spread over the nodes: sender i sends to
// receiver i mod len(receivers) through a node other than the receiver's.
type traffic struct {
	h                  *history
	stopSend, stopRecv context.CancelFunc
	sendWG, recvWG     sync.WaitGroup
}

func startTraffic(ns *nodes, receivers, senders []*servertest.Device) *traffic {
	tr := &traffic{h: newHistory()}
	recvCtx, stopRecv := context.WithCancel(context.Background())
	sendCtx, stopSend := context.WithCancel(context.Background())
	tr.stopSend, tr.stopRecv = stopSend, stopRecv
	for i, d := range receivers {
		tr.recvWG.Add(1)
		go func() { defer tr.recvWG.Done(); receive(recvCtx, ns.urls, i, d, tr.h) }()
	}
	for i, d := range senders {
		to := i % len(receivers)
		tr.sendWG.Add(1)
		go func() {
			defer tr.sendWG.Done()
			clusterSend(sendCtx, ns.urls, to+1+i/len(receivers), d, receivers[to], i, tr.h)
		}()
	}
	return tr
}

// finish stops the senders, waits until every acknowledged message was
// delivered (or a deadline passed) and stops the receivers.
func (tr *traffic) finish(t *testing.T) {
	tr.stopSend()
	tr.sendWG.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for len(tr.h.check(true)) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	tr.stopRecv()
	tr.recvWG.Wait()
}

// TestMultiNodeKill is acceptance tests 17 and 18 for a cluster: three skyd
// processes on one PostgreSQL database and NATS, clients spread over them,
// and one node after another SIGKILLed (and restarted) while clients send;
// clients of a killed node reconnect to the others. Every acknowledged
// message must be delivered, nothing invented, nothing twice after
// deduplication by ID, each sender's order kept.
func TestMultiNodeKill(t *testing.T) {
	kills := 12
	if testing.Short() {
		kills = 4
	}
	ns := startNodes(t, 3)
	devs := ns.devices(9)
	tr := startTraffic(ns, devs[:3], devs[3:])
	for k := range kills {
		time.Sleep(time.Duration(300+rand.IntN(500)) * time.Millisecond)
		victim := k % 3
		ns.kill(victim)
		if k%4 == 3 {
			time.Sleep(time.Second) // a while with a node down
		}
		ns.start(victim)
	}
	time.Sleep(500 * time.Millisecond)
	tr.finish(t)
	attempted, acked, delivered := tr.h.counts()
	t.Logf("%d kills across 3 nodes: %d sends attempted, %d acknowledged, %d delivered", kills, attempted, acked, delivered)
	if acked < 300 {
		t.Fatalf("only %d messages acknowledged: the test did not exercise the cluster", acked)
	}
	for _, problem := range tr.h.check(false) {
		t.Error(problem)
	}
}

// TestMultiNodePause stops one node (SIGSTOP) for 7 seconds while clients
// use every node, then lets it go on. Its senders give up on it and move to
// the others. If it stopped inside a commit, PostgreSQL ends that session
// after 5 s (idle_in_transaction_session_timeout), releasing the queue locks
// that held up the other nodes. When it resumes it must neither lose nor
// duplicate anything.
//
// A paused node may still hold a send its client gave up on (in a socket
// buffer or a half-finished commit) and commit it after resuming, after
// that sender's later messages through another node. That message was
// never acknowledged, so per-sender order is checked over acknowledged
// messages; clients order the rest by their own sequence numbers.
func TestMultiNodePause(t *testing.T) {
	ns := startNodes(t, 3)
	devs := ns.devices(9)
	tr := startTraffic(ns, devs[:3], devs[3:])
	time.Sleep(time.Second)
	victim := ns.procs[1].cmd.Process
	victim.Signal(syscall.SIGSTOP)
	time.Sleep(7 * time.Second)
	victim.Signal(syscall.SIGCONT)
	time.Sleep(2 * time.Second)
	tr.finish(t)
	attempted, acked, delivered := tr.h.counts()
	t.Logf("7 s pause of one node of 3: %d sends attempted, %d acknowledged, %d delivered", attempted, acked, delivered)
	if acked < 300 {
		t.Fatalf("only %d messages acknowledged: the test did not exercise the cluster", acked)
	}
	for _, problem := range tr.h.checkAcked() {
		t.Error(problem)
	}
}

// checkAcked is check with per-sender order required of acknowledged
// messages only.
func (h *history) checkAcked() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append(h.lost(), h.misdelivered(true)...)
}
