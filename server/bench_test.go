package server_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/metrics"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/server/store/postgres"
	"github.com/skymsg/sky/wire"
)

// BenchmarkEndToEnd measures durable delivery through one skyd node over
// loopback WebSockets: senders send 1 KiB messages (pipelined), skyd
// group-commits them (fsync), pushes them to connected recipients, which
// acknowledge them, and skyd deletes them. b.N is the number of messages;
// it reports messages/s and send-to-receive latency percentiles.
func BenchmarkEndToEnd(b *testing.B) {
	for _, pairs := range []int{16, 64} {
		b.Run(fmt.Sprintf("sqlite/pairs=%d", pairs), func(b *testing.B) { benchE2E(b, nil, pairs, 0) })
	}
	b.Run("sqlite/pairs=64/rate=10000", func(b *testing.B) { benchE2E(b, nil, 64, 10000) })
	b.Run("postgres/pairs=64", func(b *testing.B) {
		st, err := postgres.Open(context.Background(), postgres.TestDatabase(b))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchE2E(b, st, 64, 0)
	})
}

func benchE2E(b *testing.B, st store.Store, pairs, rate int) {
	unlimited := server.Rate{Per: 1e9, Burst: 1 << 30}
	mreg := metrics.NewRegistry()
	defer func() {
		if os.Getenv("SKY_BENCH_METRICS") != "" {
			mreg.WriteTo(os.Stderr)
		}
	}()
	srv := servertest.Start(b, server.Config{Metrics: mreg, Store: st, SendRate: unlimited, ConnRate: unlimited, BundleRate: unlimited, RegisterRate: unlimited, MaxInflight: 1024})
	ctx := context.Background()
	reg := func() (*servertest.Client, *servertest.Device) {
		c, err := servertest.Dial(ctx, srv.URL)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.CloseNow() })
		d, err := c.Register(ctx, srv.Code(b, time.Now()))
		if err != nil {
			b.Fatal(err)
		}
		return c, d
	}
	senders := make([]*servertest.Client, pairs)
	receivers := make([]*servertest.Client, pairs)
	rdevs := make([]*servertest.Device, pairs)
	for i := range pairs {
		senders[i], _ = reg()
		receivers[i], rdevs[i] = reg()
	}
	per := (b.N + pairs - 1) / pairs
	total := per * pairs
	var interval time.Duration
	if rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(pairs) / float64(rate))
	}
	lat := make([][]time.Duration, pairs)
	b.SetBytes(1024)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range pairs {
		wg.Add(2)
		go func() { // sender: a window of outstanding sends
			defer wg.Done()
			window := make(chan (<-chan *wire.Response), 64)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for ch := range window {
					if r := <-ch; r.GetSent() == nil {
						b.Errorf("send failed: %v", r.GetError())
					}
				}
			}()
			body := make([]byte, 1024)
			next := time.Now()
			for range per {
				if interval > 0 {
					next = next.Add(interval)
					time.Sleep(time.Until(next))
				}
				binary.BigEndian.PutUint64(body, uint64(time.Now().UnixNano()))
				ch, err := senders[i].Start(ctx, servertest.SendRequest(rdevs[i].Account, 1, body))
				if err != nil {
					b.Error(err)
					break
				}
				window <- ch
			}
			close(window)
			<-done
		}()
		go func() { // receiver: record latency, acknowledge in batches
			defer wg.Done()
			c := receivers[i]
			var ids [][]byte
			var acks []<-chan *wire.Response
			for n := 0; n < per; n++ {
				e, err := c.Next(ctx)
				if err != nil {
					b.Error(err)
					return
				}
				lat[i] = append(lat[i], time.Duration(time.Now().UnixNano()-int64(binary.BigEndian.Uint64(e.GetContent()))))
				ids = append(ids, e.GetId())
				if len(c.Pushes) == 0 || len(ids) == 256 || n == per-1 {
					ch, err := c.Start(ctx, servertest.AckRequest(ids...))
					if err != nil {
						b.Error(err)
						return
					}
					acks = append(acks, ch)
					ids = nil
				}
			}
			for _, ch := range acks {
				if r := <-ch; r.GetAcked() == nil {
					b.Errorf("ack failed: %v", r.GetError())
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(total)/elapsed.Seconds(), "msgs/s")
		b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.ReportMetric(0, "ns/op")
}
