package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/wire"
)

// benchAccounts is how many accounts the cluster benchmark drives. Each
// sends to the next one, connected to the next node, so with two or more
// nodes nearly every message crosses nodes.
const benchAccounts = 48

// benchWindow is how many sends each account keeps unanswered.
const benchWindow = 32

// benchCluster is a running cluster with every account connected.
type benchCluster struct {
	ns    *nodes
	devs  []*servertest.Device
	conns []*servertest.Client

	delivered atomic.Int64
	mu        sync.Mutex
	latencies []time.Duration
}

// BenchmarkCluster measures end-to-end delivery through 1, 2 and 3 skyd
// processes on one PostgreSQL database and NATS: 1 KiB messages sent,
// committed, woken across nodes, pushed from the database and acknowledged.
// "single" is one node on the same database without NATS, for comparison.
// Every process (nodes, PostgreSQL, NATS, the clients) shares the machine's
// cores, so on a small machine this shows the cost of the cluster, not the
// capacity of more machines. Limits are raised so that they do not refuse
// anything, but the shared send limit is still checked for every message.
func BenchmarkCluster(b *testing.B) {
	for _, n := range []int{0, 1, 2, 3} {
		var bc *benchCluster
		name := fmt.Sprintf("nodes=%d", n)
		if n == 0 {
			name = "single"
		}
		b.Run(name, func(sub *testing.B) {
			if bc == nil {
				// On the parent: a sub-benchmark runs its cleanups
				// after every round, and the cluster serves them all.
				bc = newBenchCluster(b, n)
			}
			bc.run(sub)
		})
	}
}

// benchLimits lift the rate limits out of the benchmark's way.
var benchLimits = []string{"--send-rate", "1000000/1000000", "--request-rate", "1000000/1000000", "--register-rate", "1000/1000"}

func newBenchCluster(b *testing.B, n int) *benchCluster {
	var ns *nodes
	if n == 0 {
		ns, n = startNodesWith(b, 1, false, benchLimits...), 1
	} else {
		ns = startNodesWith(b, n, true, benchLimits...)
	}
	bc := &benchCluster{ns: ns, devs: ns.devices(benchAccounts)}
	for i, d := range bc.devs {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := servertest.Dial(ctx, ns.urls[i%n])
		if err == nil {
			_, err = c.Authenticate(ctx, d)
		}
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.CloseNow() })
		bc.conns = append(bc.conns, c)
		go bc.receive(c)
	}
	return bc
}

// receive acknowledges every push and counts it with its latency.
func (bc *benchCluster) receive(c *servertest.Client) {
	var ids [][]byte
	var lat []time.Duration
	for e := range c.Pushes {
		if body := servertest.Open(e.GetContent()); len(body) >= 8 {
			lat = append(lat, time.Duration(time.Now().UnixNano()-int64(binary.BigEndian.Uint64(body))))
		}
		ids = append(ids, e.GetId())
		if len(c.Pushes) == 0 || len(ids) >= wire.MaxAcksPerRequest {
			c.Start(context.Background(), servertest.AckRequest(ids...))
			bc.mu.Lock()
			bc.latencies = append(bc.latencies, lat...)
			bc.mu.Unlock()
			bc.delivered.Add(int64(len(ids)))
			ids, lat = nil, lat[:0]
		}
	}
}

func (bc *benchCluster) run(b *testing.B) {
	per := max(b.N/len(bc.conns), 1)
	total := int64(per * len(bc.conns))
	bc.delivered.Store(0)
	bc.mu.Lock()
	bc.latencies = bc.latencies[:0]
	bc.mu.Unlock()
	body := make([]byte, 1024)
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var refused atomic.Int64
	for i, c := range bc.conns {
		to := bc.devs[(i+1)%len(bc.devs)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			window := make(chan struct{}, benchWindow)
			var answers sync.WaitGroup
			for range per {
				window <- struct{}{}
				msg := slices.Clone(body)
				binary.BigEndian.PutUint64(msg, uint64(time.Now().UnixNano()))
				ch, err := c.Start(context.Background(), servertest.SendRequest(to.Account, to.ID, msg))
				if err != nil {
					b.Error(err)
					return
				}
				answers.Add(1)
				go func() {
					defer answers.Done()
					if r := <-ch; r.GetSent() == nil {
						refused.Add(1)
					}
					<-window
				}()
			}
			answers.Wait()
		}()
	}
	wg.Wait()
	want := total - refused.Load()
	for bc.delivered.Load() < want {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if refused.Load() > 0 {
		b.Fatalf("%d of %d sends refused", refused.Load(), total)
	}
	bc.mu.Lock()
	slices.Sort(bc.latencies)
	if n := len(bc.latencies); n > 0 {
		b.ReportMetric(float64(bc.latencies[n/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(bc.latencies[n*99/100].Microseconds())/1000, "p99-ms")
	}
	bc.mu.Unlock()
	b.ReportMetric(float64(total)/elapsed.Seconds(), "msgs/s")
}
