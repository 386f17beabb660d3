package cluster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/server/store/sqlite"
)

// recorder is a server.Node that keeps the set of devices "connected" to
// it, as a skyd hub would, and counts what the cluster asked of it.
type recorder struct {
	mu        sync.Mutex
	devices   map[store.Address]bool
	woken     map[store.Address]int
	wakeAlls  atomic.Int64
	evictions atomic.Int64
}

func newRecorder() *recorder {
	return &recorder{devices: map[store.Address]bool{}, woken: map[store.Address]int{}}
}

func (r *recorder) Wake(a store.Address) { r.mu.Lock(); r.woken[a]++; r.mu.Unlock() }
func (r *recorder) WakeAll()             { r.wakeAlls.Add(1) }
func (r *recorder) Evict(a store.Address) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.devices[a] {
		delete(r.devices, a)
		r.evictions.Add(1)
		return true
	}
	return false
}
func (r *recorder) EvictAccount(account string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for a := range r.devices {
		if a.Account == account {
			delete(r.devices, a)
		}
	}
}

func (r *recorder) connect(c *Cluster, a store.Address) {
	r.mu.Lock()
	r.devices[a] = true
	r.mu.Unlock()
	c.Connected(a)
}

func (r *recorder) has(a store.Address) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.devices[a]
}

// joinN joins n nodes to a fresh cluster, sharing one SQLite store (for
// the cluster's keys), each with a recorder attached.
func joinN(t *testing.T, n int, heartbeat time.Duration) ([]*Cluster, []*recorder) {
	t.Helper()
	name := TestName(t)
	st, err := sqlite.Open(context.Background(), t.TempDir()+"/keys.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var cs []*Cluster
	var rs []*recorder
	for range n {
		c, err := Join(context.Background(), Config{URL: TestURL, Name: name, Store: st, Heartbeat: heartbeat})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		r := newRecorder()
		c.Attach(r)
		cs, rs = append(cs, c), append(rs, r)
	}
	return cs, rs
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func addr(i int) store.Address { return store.Address{Account: fmt.Sprintf("acct%06d", i), Device: 1} }

// TestPresenceRace: two nodes announce the same devices at the same moment;
// for every device exactly one connection survives, cluster-wide.
func TestPresenceRace(t *testing.T) {
	cs, rs := joinN(t, 2, time.Second)
	const devices = 60
	var wg sync.WaitGroup
	for i := range devices {
		for n := range 2 {
			wg.Add(1)
			go func() { defer wg.Done(); rs[n].connect(cs[n], addr(i)) }()
		}
	}
	wg.Wait()
	eventually(t, "every device is connected to exactly one node", func() bool {
		for i := range devices {
			if rs[0].has(addr(i)) == rs[1].has(addr(i)) {
				return false
			}
		}
		return true
	})
	if got := rs[0].evictions.Load() + rs[1].evictions.Load(); got != devices {
		t.Fatalf("%d evictions for %d contested devices", got, devices)
	}
	// Later connections win, whichever node held the device before.
	for i := range devices {
		loser := 0
		if rs[0].has(addr(i)) {
			loser = 1
		}
		rs[loser].connect(cs[loser], addr(i))
	}
	eventually(t, "the newest connections won", func() bool {
		for i := range devices {
			if rs[0].has(addr(i)) == rs[1].has(addr(i)) {
				return false
			}
		}
		return rs[0].evictions.Load()+rs[1].evictions.Load() == 2*devices
	})
}

// TestAccountDeletedElsewhere closes the account's connections on the other
// nodes.
func TestAccountDeletedElsewhere(t *testing.T) {
	cs, rs := joinN(t, 2, time.Second)
	a1, a2 := store.Address{Account: "zzzzzzzzzz", Device: 1}, store.Address{Account: "zzzzzzzzzz", Device: 2}
	rs[1].connect(cs[1], a1)
	rs[1].connect(cs[1], a2)
	rs[1].connect(cs[1], addr(1))
	cs[0].AccountDeleted("zzzzzzzzzz")
	eventually(t, "the deleted account's devices are gone", func() bool { return !rs[1].has(a1) && !rs[1].has(a2) })
	if !rs[1].has(addr(1)) {
		t.Fatal("another account's connection was closed")
	}
}

// TestWakeAcrossNodes: Committed on one node wakes the device on every
// other node, and no node wakes itself through the bus.
func TestWakeAcrossNodes(t *testing.T) {
	cs, rs := joinN(t, 3, time.Second)
	cs[0].Committed([]store.Address{addr(1), addr(2), {Account: "much-too-long-for-a-token", Device: 1}})
	eventually(t, "nodes 1 and 2 were woken", func() bool {
		for _, r := range rs[1:] {
			r.mu.Lock()
			n1, n2 := r.woken[addr(1)], r.woken[addr(2)]
			r.mu.Unlock()
			if n1 != 1 || n2 != 1 {
				return false
			}
		}
		return true
	})
	rs[0].mu.Lock()
	defer rs[0].mu.Unlock()
	if len(rs[0].woken) != 0 {
		t.Fatalf("the committing node woke itself: %v", rs[0].woken)
	}
}

// TestSilentPeer: when a node stops (it may have died between a commit and
// its wake message), the others re-read every queue they serve.
func TestSilentPeer(t *testing.T) {
	cs, rs := joinN(t, 2, 50*time.Millisecond)
	eventually(t, "the nodes hear each other", func() bool { return cs[1].m.peers.Value() == 1 })
	before := rs[1].wakeAlls.Load()
	cs[0].Close()
	eventually(t, "the survivor re-read every queue", func() bool { return rs[1].wakeAlls.Load() > before })
	if cs[1].m.peers.Value() != 0 {
		t.Fatal("the silent peer is still counted")
	}
}

// TestSharedLimiterContention: many takers on two nodes spend one bucket;
// exactly the burst is granted, and then the wait is the interval.
func TestSharedLimiterContention(t *testing.T) {
	cs, _ := joinN(t, 2, time.Second)
	r := server.Rate{Per: 0.5, Burst: 40}
	ls := []server.SharedLimiter{cs[0].Limiter("send", r), cs[1].Limiter("send", r)}
	now := time.Now()
	var granted, refused atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				_, ok, err := ls[g%2].Take("acct", now)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					granted.Add(1)
				} else {
					refused.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if granted.Load() != 40 || refused.Load() != 40 {
		t.Fatalf("granted %d, refused %d; want 40 and 40", granted.Load(), refused.Load())
	}
	wait, ok, err := ls[1].Take("acct", now)
	if err != nil || ok || wait != 2*time.Second {
		t.Fatalf("after the burst: wait %v, ok %v, err %v; want 2s", wait, ok, err)
	}
	if _, ok, _ := ls[0].Take("acct", now.Add(2*time.Second)); !ok {
		t.Fatal("no token after one interval")
	}
	if _, ok, _ := ls[0].Take("other", now); !ok {
		t.Fatal("another key shares the bucket")
	}
}

// TestSharedLimiterLeases: with a large burst each node takes tokens from
// the shared bucket a lease at a time; two nodes together still get the
// burst, to within one unspent lease each, and no more.
func TestSharedLimiterLeases(t *testing.T) {
	cs, _ := joinN(t, 2, time.Second)
	r := server.Rate{Per: 100, Burst: 1000} // the default send limit: leases of 20
	ls := []server.SharedLimiter{cs[0].Limiter("send", r), cs[1].Limiter("send", r)}
	now := time.Now()
	granted := 0
	for i := 0; i < 3000; i++ {
		_, ok, err := ls[i%2].Take("acct", now)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			granted++
		}
	}
	if granted > 1000 || granted < 1000-2*19 {
		t.Fatalf("granted %d of a 1000-token burst across two nodes", granted)
	}
	// A second later 100 tokens have refilled, shared between the nodes.
	later, more := now.Add(time.Second), 0
	for i := 0; i < 300; i++ {
		if _, ok, _ := ls[i%2].Take("acct", later); ok {
			more++
		}
	}
	if more > 100+2*19 || more < 100-2*19 {
		t.Fatalf("granted %d after one second at 100/s", more)
	}
}
