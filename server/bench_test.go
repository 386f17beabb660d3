package server_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/skymsg/sky/cmd/sky-bench/loadgen"
	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/metrics"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/server/store/postgres"
)

// BenchmarkEndToEnd measures durable delivery through one skyd node over
// loopback WebSockets, with the load generator of sky-bench in the same
// process: senders send 1 KiB messages (pipelined), skyd group-commits them
// (fsync), pushes them to the connected recipients, which acknowledge them,
// and skyd deletes them. One iteration is a whole run of benchDuration;
// it reports delivered messages per second and send-to-deliver latency
// percentiles. sky-bench against a separate skyd process measures the
// server alone.
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

const benchDuration = 3 * time.Second

func benchE2E(b *testing.B, st store.Store, pairs int, rate float64) {
	unlimited := server.Rate{Per: 1e9, Burst: 1 << 30}
	mreg := metrics.NewRegistry()
	defer func() {
		if os.Getenv("SKY_BENCH_METRICS") != "" {
			mreg.WriteTo(os.Stderr)
		}
	}()
	srv := servertest.Start(b, server.Config{Metrics: mreg, Store: st, SendRate: unlimited, ConnRate: unlimited, BundleRate: unlimited, RegisterRate: unlimited,
		SealedRate: unlimited, RecipientRate: unlimited, QueueCap: 1 << 30, AnonymousLifetime: time.Hour})
	codes, err := server.CreateCodes(context.Background(), srv.Store, 2*pairs, time.Hour, time.Now().Add(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	d := &loadgen.Dialer{URL: srv.URL}
	devs, err := loadgen.RegisterDevices(context.Background(), d, codes, 16, nil)
	if err != nil {
		b.Fatal(err)
	}
	var res *loadgen.Result
	b.ResetTimer()
	for range b.N {
		res, err = loadgen.RunLoad(context.Background(), d, loadgen.LoadConfig{
			Senders: devs[:pairs], Receivers: devs[pairs:], Rate: rate, Window: 64, Size: 1024,
			Warmup: 500 * time.Millisecond, Duration: benchDuration,
		})
		if err != nil {
			b.Fatal(err)
		}
		if res.Errors != 0 || res.Lost != 0 {
			b.Fatalf("%d errors (first: %s), %d acknowledged sends not delivered", res.Errors, res.FirstErr, res.Lost)
		}
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(float64(res.Delivered)/res.Elapsed.Seconds(), "msgs/s")
	b.ReportMetric(ms(res.Latency.P50), "p50-ms")
	b.ReportMetric(ms(res.Latency.P99), "p99-ms")
	b.ReportMetric(ms(res.Latency.P999), "p99.9-ms")
	b.ReportMetric(0, "ns/op")
}
