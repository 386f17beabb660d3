package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/skymsg/sky/internal/testenv"
	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/cluster"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/server/store/postgres"
	"github.com/skymsg/sky/wire"
)

var t0 = time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// cluster is n skyd nodes in this process, each with its own database pool
// and NATS connection, sharing one fresh PostgreSQL database and one fresh
// cluster name, all reading one manual clock.
type testCluster struct {
	t     *testing.T
	name  string
	nodes []*servertest.Server
	clock *servertest.Clock
}

func newCluster(t *testing.T, n int, cfg server.Config) *testCluster {
	t.Helper()
	return newClusterAt(t, n, cfg, cluster.TestURL, cluster.TestName(t))
}

// newClusterAt is newCluster on the NATS server at url.
func newClusterAt(t *testing.T, n int, cfg server.Config, url, name string) *testCluster {
	t.Helper()
	db := postgres.TestDatabase(t)
	tc := &testCluster{t: t, name: name, clock: servertest.NewClock(t0)}
	for range n {
		st, err := postgres.Open(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		cl, err := cluster.Join(context.Background(), cluster.Config{URL: url, Name: name, Store: st, Heartbeat: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		c := cfg
		c.Store, c.Cluster, c.Clock = st, cl, tc.clock
		tc.nodes = append(tc.nodes, servertest.Start(t, c))
	}
	return tc
}

func (tc *testCluster) dial(node int) *servertest.Client {
	tc.t.Helper()
	c, err := servertest.Dial(ctxT(tc.t), tc.nodes[node].URL)
	if err != nil {
		tc.t.Fatalf("dial node %d: %v", node, err)
	}
	tc.t.Cleanup(func() { c.CloseNow() })
	return c
}

func (tc *testCluster) register(node int) (*servertest.Client, *servertest.Device) {
	tc.t.Helper()
	c := tc.dial(node)
	d, err := c.Register(ctxT(tc.t), tc.nodes[node].Code(tc.t, tc.clock.Now()))
	if err != nil {
		tc.t.Fatalf("register on node %d: %v", node, err)
	}
	return c, d
}

func (tc *testCluster) connect(node int, d *servertest.Device) *servertest.Client {
	tc.t.Helper()
	c := tc.dial(node)
	if _, err := c.Authenticate(ctxT(tc.t), d); err != nil {
		tc.t.Fatalf("authenticate on node %d: %v", node, err)
	}
	return c
}

func expectCode(t *testing.T, err error, code wire.Code) *wire.Error {
	t.Helper()
	var we *wire.Error
	if !errors.As(err, &we) || we.GetCode() != code {
		t.Fatalf("err = %v, want code %v", err, code)
	}
	return we
}

// TestCrossNodeDelivery: senders on two nodes, the recipient on a third.
// Each message arrives once, promptly, in its sender's order, and the
// recipient's reconnection to another node resumes from the database.
func TestCrossNodeDelivery(t *testing.T) {
	tc := newCluster(t, 3, server.Config{})
	a, _ := tc.register(0)
	b, _ := tc.register(1)
	r, rd := tc.register(2)
	const n = 50
	var wg sync.WaitGroup
	for _, s := range []struct {
		c    *servertest.Client
		name string
	}{{a, "a"}, {b, "b"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				if err := s.c.Send(ctxT(t), rd.Account, rd.ID, fmt.Appendf(nil, "%s%03d", s.name, i)); err != nil {
					t.Errorf("send %s%d: %v", s.name, i, err)
					return
				}
			}
		}()
	}
	last := map[string]int{"a": -1, "b": -1}
	ids := map[string]bool{}
	for range 2 * n {
		e, err := r.Next(ctxT(t))
		if err != nil {
			t.Fatalf("after %d messages: %v", len(ids), err)
		}
		if ids[string(e.GetId())] {
			t.Fatalf("message %q pushed twice on one connection", e.GetContent())
		}
		ids[string(e.GetId())] = true
		var who string
		var i int
		fmt.Sscanf(string(servertest.Open(e.GetContent())), "%1s%03d", &who, &i)
		if i != last[who]+1 {
			t.Fatalf("from %s: got %d after %d", who, i, last[who])
		}
		last[who] = i
		if len(e.ProtoReflect().GetUnknown()) != 0 {
			t.Fatalf("message %q carries unknown fields %x; every send is sealed", servertest.Open(e.GetContent()), e.ProtoReflect().GetUnknown())
		}
	}
	wg.Wait()

	// Unacknowledged, so a connection to another node gets them all again,
	// from the database, in order.
	r2 := tc.connect(0, rd)
	var again []string
	for range 2 * n {
		e, err := r2.Next(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if !ids[string(e.GetId())] {
			t.Fatalf("redelivery under a new ID: %q", e.GetContent())
		}
		again = append(again, string(servertest.Open(e.GetContent())))
		if err := r2.Ack(ctxT(t), e.GetId()); err != nil {
			t.Fatal(err)
		}
	}
	if again[0] != "a000" && again[0] != "b000" {
		t.Fatalf("redelivery starts with %q", again[0])
	}
	// And the old connection on node 2 was closed by the newer one.
	select {
	case <-r.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the older connection on another node is still open")
	}
	if f := r.Fatal(); f.GetCode() != wire.Code_REPLACED {
		t.Fatalf("older connection closed with %v, want REPLACED", f)
	}
}

// TestNewestConnectionWins: a device that connects again and again, to
// different nodes, ends up with exactly its newest connection open, and a
// message sent then reaches the application once.
func TestNewestConnectionWins(t *testing.T) {
	tc := newCluster(t, 3, server.Config{})
	_, d := tc.register(0)
	s, _ := tc.register(1)
	var conns []*servertest.Client
	for i := range 9 {
		conns = append(conns, tc.connect(i%3, d))
	}
	newest := conns[len(conns)-1]
	for i, c := range conns[:len(conns)-1] {
		select {
		case <-c.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("connection %d (node %d) still open after newer ones", i, i%3)
		}
		if f := c.Fatal(); f.GetCode() != wire.Code_REPLACED {
			t.Fatalf("connection %d closed with %v, want REPLACED", i, f)
		}
	}
	if err := s.Send(ctxT(t), d.Account, d.ID, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if e, err := newest.Next(ctxT(t)); err != nil || string(servertest.Open(e.GetContent())) != "hello" {
		t.Fatalf("newest connection: %v %v", e, err)
	}
	select {
	case <-newest.Done():
		t.Fatalf("the newest connection was closed: %v", newest.Fatal())
	case <-time.After(time.Second):
	}
}

// TestSharedRateLimits is acceptance test 15 across two nodes: the buckets
// are shared, so alternating nodes does not double the allowance, and they
// recover at the configured rate (manual clock).
func TestSharedRateLimits(t *testing.T) {
	tc := newCluster(t, 2, server.Config{
		SendRate:     server.Rate{Per: 1, Burst: 4},
		RegisterRate: server.Rate{Per: 1.0 / 60, Burst: 3},
	})
	t.Run("registrations", func(t *testing.T) {
		tc.register(0) // 1
		tc.register(1) // 2
		tc.register(0) // 3: the burst, spent on two nodes
		c := tc.dial(1)
		_, err := c.Register(ctxT(t), tc.nodes[1].Code(t, tc.clock.Now()))
		if we := expectCode(t, err, wire.Code_RATE_LIMITED); we.RetryAfter() != time.Minute {
			t.Fatalf("retry after %v, want 1m", we.RetryAfter())
		}
		tc.clock.Advance(time.Minute)
		tc.register(1)
		c = tc.dial(0)
		_, err = c.Register(ctxT(t), tc.nodes[0].Code(t, tc.clock.Now()))
		expectCode(t, err, wire.Code_RATE_LIMITED)
		tc.clock.Advance(3 * time.Minute) // full again for the next subtest
	})
	t.Run("sends", func(t *testing.T) {
		_, rd := tc.register(0)
		_, sd := tc.register(1)
		sent := 0
		for i := range 4 {
			c := tc.connect(i%2, sd) // each connection replaces the last
			if err := c.Send(ctxT(t), rd.Account, rd.ID, []byte{byte(i)}); err != nil {
				t.Fatalf("send %d on node %d within the burst: %v", i, i%2, err)
			}
			sent++
		}
		for node := range 2 {
			c := tc.connect(node, sd)
			we := expectCode(t, c.Send(ctxT(t), rd.Account, rd.ID, []byte("x")), wire.Code_RATE_LIMITED)
			if we.RetryAfter() != time.Second {
				t.Fatalf("node %d: retry after %v, want 1s", node, we.RetryAfter())
			}
		}
		tc.clock.Advance(time.Second)
		c := tc.connect(0, sd)
		if err := c.Send(ctxT(t), rd.Account, rd.ID, []byte("y")); err != nil {
			t.Fatalf("after waiting: %v", err)
		}
		c = tc.connect(1, sd)
		expectCode(t, c.Send(ctxT(t), rd.Account, rd.ID, []byte("z")), wire.Code_RATE_LIMITED)
	})
}

// fourWriters opens four stores on one fresh database, as four nodes
// would, with two devices registered.
func fourWriters(t *testing.T) ([]*postgres.Store, [2]store.Address) {
	t.Helper()
	db := postgres.TestDatabase(t)
	ctx := ctxT(t)
	var writers []*postgres.Store
	for range 4 {
		st, err := postgres.Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		writers = append(writers, st)
	}
	codes, err := server.CreateCodes(ctx, writers[0], 2, time.Hour, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var dev [2]store.Address
	for i := range dev {
		acct, err := writers[0].Register(ctx, store.Registration{CodeHash: server.HashCode(codes[i]), ID: server.NewAccountID(), IdentityKey: []byte{5}, AuthKey: make([]byte, 32)}, t0)
		if err != nil {
			t.Fatal(err)
		}
		dev[i] = store.Address{Account: acct.ID, Device: 1}
	}
	return writers, dev
}

// TestQueueOrderAcrossNodes checks what cross-node push relies on: in
// PostgreSQL, each device's queue becomes visible in sequence order even
// when several nodes commit to it at once, so a reader that only asks for
// messages after the last one it saw never skips one.
func TestQueueOrderAcrossNodes(t *testing.T) {
	ctx := ctxT(t)
	writers, to := fourWriters(t)
	const batches = 150
	committed := make(chan uint64, 4*batches*3)
	var wg sync.WaitGroup
	for w, st := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range batches {
				// Two recipients per batch, in varying order, as a busy
				// node's group commit would have.
				b := &store.Batch{QueueCap: 1 << 20, Messages: []store.NewMessage{
					{To: to[(w+i)%2], Received: t0, Body: []byte{1}},
					{To: to[0], Received: t0, Body: []byte{2}},
					{To: to[(w+i+1)%2], Received: t0, Body: []byte{3}},
				}}
				if err := st.WriteBatch(ctx, b); err != nil {
					t.Error(err)
					return
				}
				for j, s := range b.Seqs {
					if b.Errs[j] == nil && b.Messages[j].To == to[0] {
						committed <- s
					}
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	seen := map[uint64]bool{}
	var cursor uint64
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true // one more read after the last commit
		default:
		}
		msgs, err := writers[0].Pending(ctx, to[0], cursor, t0.Add(-time.Hour), 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			seen[m.Seq] = true
			cursor = m.Seq
		}
	}
	close(committed)
	n := 0
	for s := range committed {
		n++
		if !seen[s] {
			t.Errorf("message %d was committed but a reader following its cursor never saw it", s)
		}
	}
	if n != len(seen) || n < 4*batches {
		t.Fatalf("%d committed, %d seen", n, len(seen))
	}
}

// TestNoDeadlockAcrossNodes: batches from several nodes that acknowledge
// on one device and send to another, in crossing directions, all commit:
// the store takes its device locks in one order.
func TestNoDeadlockAcrossNodes(t *testing.T) {
	ctx := ctxT(t)
	writers, dev := fourWriters(t)
	const rounds = 60
	var wg sync.WaitGroup
	for w, st := range writers {
		mine, other := dev[w%2], dev[(w+1)%2]
		// Messages this writer will acknowledge, one per round.
		seed := &store.Batch{QueueCap: 1 << 20}
		for range rounds {
			seed.Messages = append(seed.Messages, store.NewMessage{To: mine, Received: t0, Body: []byte{0}})
		}
		if err := st.WriteBatch(ctx, seed); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				b := &store.Batch{
					QueueCap: 1 << 20,
					Acks:     []store.Ack{{To: mine, Seqs: []uint64{seed.Seqs[i]}}},
					Messages: []store.NewMessage{{To: other, Received: t0, Body: []byte{1}}},
				}
				if err := st.WriteBatch(ctx, b); err != nil {
					t.Errorf("writer %d, round %d: %v", w, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestNATSHoldsNothing is the NATS part of acceptance test 19 and of the
// seized-server audit: everything the cluster puts on NATS — what its
// streams keep and what passes by — carries no content and no account ID,
// and what is kept expires (MaxAge / TTL), in memory only.
func TestNATSHoldsNothing(t *testing.T) {
	tc := newCluster(t, 2, server.Config{})
	nc, err := nats.Connect(cluster.TestURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var mu sync.Mutex
	var passing [][]byte
	sub, err := nc.Subscribe(">", func(m *nats.Msg) {
		mu.Lock()
		passing = append(passing, append([]byte(m.Subject+" "), m.Data...))
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()

	s, sd := tc.register(0)
	r, rd := tc.register(1)
	canary := []byte("canary-7d1e0c5b-not-for-nats")
	for i := range 20 {
		if err := s.Send(ctxT(t), rd.Account, rd.ID, append(canary, byte(i))); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Next(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	s2 := tc.connect(1, sd) // a presence announcement; a send on the recipient's node
	if err := s2.Send(ctxT(t), rd.Account, rd.ID, canary); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	sub.Unsubscribe()

	secrets := [][]byte{canary, []byte(sd.Account), []byte(rd.Account)}
	mu.Lock()
	defer mu.Unlock()
	if len(passing) < 3 {
		t.Fatalf("saw only %d messages pass on NATS; the test did not watch the cluster", len(passing))
	}
	for _, m := range passing {
		for _, sec := range secrets {
			if bytes.Contains(m, sec) {
				t.Fatalf("a message on NATS contains %q: %q", sec, m)
			}
		}
	}

	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	streams := 0
	for info := range js.ListStreams(ctx).Info() {
		if !strings.Contains(info.Config.Name, tc.name) {
			continue
		}
		streams++
		cfg := info.Config
		if cfg.Storage != jetstream.MemoryStorage || cfg.MaxAge <= 0 || cfg.MaxAge > 11*time.Minute {
			t.Errorf("stream %s: storage %v, MaxAge %v; want memory and a short MaxAge", cfg.Name, cfg.Storage, cfg.MaxAge)
		}
		st, _ := js.Stream(ctx, cfg.Name)
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq && seq > 0; seq++ {
			m, err := st.GetMsg(ctx, seq)
			if err != nil {
				continue // expired or deleted
			}
			for _, sec := range secrets {
				if bytes.Contains(m.Data, sec) || strings.Contains(m.Subject, string(sec)) {
					t.Fatalf("stream %s keeps %q", cfg.Name, sec)
				}
			}
		}
	}
	if streams < 2 {
		t.Fatalf("found %d streams of the cluster; want the presence stream and rate-limit buckets", streams)
	}
}

// natsServer is a nats-server process of the test's own, with JetStream,
// on a fixed port so it can be killed and started again.
type natsServer struct {
	t    *testing.T
	bin  string
	port string
	dir  string
	cmd  *exec.Cmd
}

func startNATS(t *testing.T) *natsServer {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		bin = "/usr/sbin/nats-server"
		if _, err := os.Stat(bin); err != nil {
			testenv.Unavailable(t, "NATS", "nats-server is not installed (apt-get install nats-server)")
		}
	}
	_, port, _ := net.SplitHostPort(testenv.FreeAddr(t))
	ns := &natsServer{t: t, bin: bin, port: port, dir: t.TempDir()}
	ns.start()
	t.Cleanup(ns.kill)
	return ns
}

func (ns *natsServer) url() string { return "nats://127.0.0.1:" + ns.port }

func (ns *natsServer) start() {
	ns.t.Helper()
	ns.cmd = exec.Command(ns.bin, "-a", "127.0.0.1", "-p", ns.port, "-js", "-sd", ns.dir)
	if err := ns.cmd.Start(); err != nil {
		ns.t.Fatal(err)
	}
	eventually(ns.t, "nats-server listens", func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+ns.port)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

func (ns *natsServer) kill() {
	if ns.cmd != nil {
		ns.cmd.Process.Kill()
		ns.cmd.Wait()
		ns.cmd = nil
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNATSOutage: NATS dies (SIGKILL) and comes back empty. Meanwhile the
// nodes keep delivering across each other from the database; afterwards
// wake hints and newest-connection-wins work again.
func TestNATSOutage(t *testing.T) {
	nats := startNATS(t)
	tc := newClusterAt(t, 2, server.Config{}, nats.url(), "outage")
	s, sd := tc.register(0)
	r, rd := tc.register(1)
	expect := func(c *servertest.Client, content string) {
		t.Helper()
		e, err := c.Next(ctxT(t))
		if err != nil || string(servertest.Open(e.GetContent())) != content {
			t.Fatalf("waiting for %q: got %v, %v", content, e, err)
		}
		if err := c.Ack(ctxT(t), e.GetId()); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Send(ctxT(t), rd.Account, rd.ID, []byte("before")); err != nil {
		t.Fatal(err)
	}
	expect(r, "before")

	nats.kill()
	for i := range 3 {
		msg := fmt.Sprintf("during %d", i)
		if err := s.Send(ctxT(t), rd.Account, rd.ID, []byte(msg)); err != nil {
			t.Fatalf("sending while NATS is down: %v", err)
		}
		expect(r, msg)
	}

	nats.start()
	// Once both nodes are back on NATS, a newer connection on node 0
	// closes the one on node 1 again.
	r = tc.takeOver(0, rd, r)
	// And wake hints cross nodes again: the sender moves to node 1.
	s = tc.connect(1, sd)
	if err := s.Send(ctxT(t), rd.Account, rd.ID, []byte("after")); err != nil {
		t.Fatal(err)
	}
	expect(r, "after")
}

// TestNATSPause is the NATS half of acceptance test 18: NATS stops
// (SIGSTOP) for 6 s while a sender on one node writes to a recipient on the
// other. Sends keep being acknowledged meanwhile (nothing in the send path
// waits for NATS for long), every acknowledged message arrives, once and in
// order, and the cluster works as before once NATS goes on.
func TestNATSPause(t *testing.T) {
	nats := startNATS(t)
	tc := newClusterAt(t, 2, server.Config{}, nats.url(), "pause")
	s, _ := tc.register(0)
	r, rd := tc.register(1)

	var mu sync.Mutex
	var acked []string
	ackedDuring := 0
	paused := false
	stop := make(chan struct{})
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			msg := fmt.Sprintf("m%03d", i)
			if err := s.Send(ctxT(t), rd.Account, rd.ID, []byte(msg)); err == nil {
				mu.Lock()
				acked = append(acked, msg)
				if paused {
					ackedDuring++
				}
				mu.Unlock()
			}
		}
	}()
	time.Sleep(500 * time.Millisecond)
	nats.cmd.Process.Signal(syscall.SIGSTOP)
	mu.Lock()
	paused = true
	mu.Unlock()
	time.Sleep(6 * time.Second)
	mu.Lock()
	paused = false
	mu.Unlock()
	nats.cmd.Process.Signal(syscall.SIGCONT)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	<-sent

	mu.Lock()
	want := append([]string(nil), acked...)
	during := ackedDuring
	mu.Unlock()
	t.Logf("%d sends acknowledged, %d of them while NATS was stopped", len(want), during)
	if during < 10 {
		t.Fatalf("only %d sends acknowledged during the 6 s NATS pause: sending waited for NATS", during)
	}
	var got []string
	for len(got) < len(want) {
		e, err := r.Next(ctxT(t))
		if err != nil {
			t.Fatalf("after %d of %d messages: %v", len(got), len(want), err)
		}
		got = append(got, string(servertest.Open(e.GetContent())))
		if err := r.Ack(ctxT(t), e.GetId()); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	// Newest connection wins again, across nodes.
	eventually(t, "newest-connection-wins works again", func() bool {
		r2 := tc.connect(0, rd)
		select {
		case <-r.Done():
			return true
		case <-time.After(500 * time.Millisecond):
			r2.CloseNow()
			return false
		}
	})
}

// TestStartWithoutNATS: nodes start while NATS does not answer, serve
// degraded (delivery across nodes from the database), and join the cluster
// when NATS comes up: newest-connection-wins works across them again.
// (Before, Join failed with "no servers available", so a node redeployed
// during a NATS outage stayed down.)
func TestStartWithoutNATS(t *testing.T) {
	nats := startNATS(t)
	nats.kill()
	tc := newClusterAt(t, 2, server.Config{}, nats.url(), "startdown")
	s, _ := tc.register(0)
	r, rd := tc.register(1)
	if err := s.Send(ctxT(t), rd.Account, rd.ID, []byte("degraded")); err != nil {
		t.Fatal(err)
	}
	if e, err := r.Next(ctxT(t)); err != nil || string(servertest.Open(e.GetContent())) != "degraded" {
		t.Fatalf("delivery across nodes without NATS: %v, %v", e, err)
	}
	nats.start()
	tc.takeOver(0, rd, r)
}

// takeOver waits until a new connection of d on node closes r, which is on
// another node (newest connection wins, across nodes: NATS works), and
// returns the new one.
func (tc *testCluster) takeOver(node int, d *servertest.Device, r *servertest.Client) *servertest.Client {
	tc.t.Helper()
	var now *servertest.Client
	eventually(tc.t, "newest-connection-wins works across nodes", func() bool {
		r2 := tc.connect(node, d)
		select {
		case <-r.Done():
			now = r2
			return true
		case <-time.After(500 * time.Millisecond):
			r2.CloseNow()
			return false
		}
	})
	return now
}
