package loadgen

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/metrics"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/server/store"
)

var lots = server.Rate{Per: 1e9, Burst: 1 << 30}

// sealedLoad lifts the limits on sealed sends that a load runs into: per
// anonymous connection, per recipient, a connection's share of a queue
// (a tenth of QueueCap) and an anonymous connection's life.
// It keeps the sealed rates cfg sets.
func sealedLoad(cfg server.Config) server.Config {
	if cfg.SealedRate == (server.Rate{}) {
		cfg.SealedRate = lots
	}
	if cfg.RecipientRate == (server.Rate{}) {
		cfg.RecipientRate = lots
	}
	cfg.QueueCap, cfg.AnonymousLifetime = 1<<30, time.Hour
	return cfg
}

// newServer starts a real skyd on loopback and writes n activation codes to
// a file.
func newServer(t *testing.T, cfg server.Config, n int) (*servertest.Server, string) {
	t.Helper()
	srv := servertest.Start(t, sealedLoad(cfg))
	codes, err := server.CreateCodes(context.Background(), srv.Store, n, time.Hour, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "codes")
	if err := os.WriteFile(path, []byte(strings.Join(codes, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, path
}

func register(t *testing.T, d *Dialer, codeFile string, n int) []Device {
	t.Helper()
	codes, err := CodesFromFile(codeFile)(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	devs, err := RegisterDevices(context.Background(), d, codes, 4, nil)
	if err != nil || len(devs) != n {
		t.Fatalf("registered %d of %d: %v", len(devs), n, err)
	}
	return devs
}

// TestLoadClosedLoop: every message sent is delivered and acknowledged,
// and the report adds up.
func TestLoadClosedLoop(t *testing.T) {
	srv, codes := newServer(t, server.Config{SendRate: lots, ConnRate: lots, RegisterRate: lots}, 4)
	d := &Dialer{URL: srv.URL}
	devs := register(t, d, codes, 4)
	res, err := RunLoad(context.Background(), d, LoadConfig{
		Senders: devs[:2], Receivers: devs[2:], Window: 16, Size: 1024,
		Warmup: 100 * time.Millisecond, Duration: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Delivered == 0 || res.Sent == 0 || res.Errors != 0 || res.Lost != 0 || res.Connected != 2 {
		t.Fatalf("result %+v", res)
	}
	l := res.Latency
	if l.Count == 0 || l.Min <= 0 || l.P50 > l.P90 || l.P90 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max {
		t.Fatalf("latency percentiles out of order: %+v", l)
	}
	// Every acknowledged send was delivered and acknowledged in turn, so
	// nothing is left queued on the server once the receivers' last Acks,
	// written just before they closed, have been committed.
	for _, r := range devs[2:] {
		deadline := time.Now().Add(5 * time.Second)
		for {
			msgs, err := srv.Store.Pending(context.Background(), addr(r), 0, time.Now().Add(-time.Hour), 10)
			if err == nil && len(msgs) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d messages still queued for a receiver 5 s after the run (%v)", len(msgs), err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestLoadFixedRate: a fixed rate is what is sent, within timer slack.
func TestLoadFixedRate(t *testing.T) {
	srv, codes := newServer(t, server.Config{SendRate: lots, ConnRate: lots, RegisterRate: lots}, 2)
	d := &Dialer{URL: srv.URL}
	devs := register(t, d, codes, 2)
	res, err := RunLoad(context.Background(), d, LoadConfig{
		Senders: devs[:1], Receivers: devs[1:], Rate: 400, Window: 64, Size: 1024,
		Warmup: 200 * time.Millisecond, Duration: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Delivered < 300 || res.Delivered > 500 || res.Errors != 0 {
		t.Fatalf("at 400 msgs/s for 1 s: %+v", res)
	}
}

// TestLoadReportsRefusals: sends the server refuses (here: its rate limit
// of sealed sends per recipient) are counted as errors with the server's
// message.
func TestLoadReportsRefusals(t *testing.T) {
	srv, codes := newServer(t, server.Config{RecipientRate: server.Rate{Per: 10, Burst: 10}, ConnRate: lots, RegisterRate: lots}, 2)
	d := &Dialer{URL: srv.URL}
	devs := register(t, d, codes, 2)
	res, err := RunLoad(context.Background(), d, LoadConfig{
		Senders: devs[:1], Receivers: devs[1:], Window: 8, Size: 1024,
		Duration: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors == 0 || !strings.Contains(res.FirstErr, "RATE_LIMITED") {
		t.Fatalf("a rate-limited run reported %d errors (first %q)", res.Errors, res.FirstErr)
	}
}

// TestRegisterWaitsOutRateLimit: registrations beyond the server's
// registration limit wait and succeed.
func TestRegisterWaitsOutRateLimit(t *testing.T) {
	srv, codes := newServer(t, server.Config{RegisterRate: server.Rate{Per: 20, Burst: 1}}, 4)
	devs := register(t, &Dialer{URL: srv.URL}, codes, 4)
	seen := map[string]bool{}
	for _, d := range devs {
		if seen[d.Account] || len(d.Seed) != 32 {
			t.Fatalf("device %+v repeated or without a key", d)
		}
		seen[d.Account] = true
	}
}

func TestIdle(t *testing.T) {
	reg := metrics.NewRegistry()
	srv, codes := newServer(t, server.Config{RegisterRate: lots, IdleAfter: 10 * time.Millisecond, Metrics: reg}, 20)
	d := &Dialer{URL: srv.URL}
	devs := register(t, d, codes, 20)
	idle, err := OpenIdle(context.Background(), d, devs, 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if idle.Len() != 20 || idle.Alive() != 20 {
		t.Fatalf("opened %d, alive %d; want 20", idle.Len(), idle.Alive())
	}
	deadline := time.Now().Add(10 * time.Second)
	for parked(reg) != 20 {
		if time.Now().After(deadline) {
			t.Fatalf("%v of 20 idle connections parked", parked(reg))
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv.Stop()
	deadline = time.Now().Add(10 * time.Second)
	for idle.Alive() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle connections alive after the server stopped", idle.Alive())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDevicesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts.jsonl")
	if ds, err := LoadDevices(path); err != nil || ds != nil {
		t.Fatalf("missing file: %v %v", ds, err)
	}
	a := []Device{{Account: "abcdefghjk", ID: 1, Seed: make([]byte, 32)}, {Account: "23456789ab", ID: 2, Seed: []byte{1, 2}}}
	if err := AppendDevices(path, a[:1]); err != nil {
		t.Fatal(err)
	}
	if err := AppendDevices(path, a[1:]); err != nil {
		t.Fatal(err)
	}
	got, err := LoadDevices(path)
	if err != nil || len(got) != 2 || got[1].Account != a[1].Account || got[1].ID != 2 || string(got[1].Seed) != string(a[1].Seed) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("accounts file mode %v, want 0600", fi.Mode().Perm())
	}
	os.WriteFile(path, []byte("{not json\n"), 0o600)
	if _, err := LoadDevices(path); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("a damaged file: %v", err)
	}
}

func TestParseSources(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		bad  bool
	}{
		{"", nil, false},
		{"127.0.0.2-127.0.0.4", []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, false},
		{"10.0.0.1, ::1", []string{"10.0.0.1", "::1"}, false},
		{"127.0.0.4-127.0.0.2", nil, true},
		{"127.0.0.2-127.0.1.3", nil, true},
		{"localhost", nil, true},
	}
	for _, tc := range cases {
		got, err := ParseSources(tc.in)
		if (err != nil) != tc.bad {
			t.Errorf("%q: err %v", tc.in, err)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("%q: %v, want %v", tc.in, got, tc.want)
			continue
		}
		for i := range got {
			if !got[i].Equal(net.ParseIP(tc.want[i])) {
				t.Errorf("%q: %v, want %v", tc.in, got, tc.want)
			}
		}
	}
}

func TestMetricsParsing(t *testing.T) {
	text := `# HELP x_seconds A histogram.
# TYPE x_seconds histogram
x_seconds_bucket{le="0.001"} 10
x_seconds_bucket{le="0.01"} 90
x_seconds_bucket{le="0.1"} 100
x_seconds_bucket{le="+Inf"} 100
x_seconds_sum 1.5
x_seconds_count 100
process_resident_memory_bytes 1.5e+08
skyd_authentications_total{result="ok"} 7
`
	m, err := ParseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if m["process_resident_memory_bytes"] != 1.5e8 || m[`skyd_authentications_total{result="ok"}`] != 7 || m["x_seconds_count"] != 100 {
		t.Fatalf("parsed %v", m)
	}
	// The median lies in the second bucket: 0.001 + (50-10)/(90-10) of it.
	if q := m.Quantile("x_seconds", 0.5); q < 0.00549 || q > 0.00551 {
		t.Fatalf("median %v, want 0.0055", q)
	}
	if q := m.Quantile("x_seconds", 0.99); q < 0.09 || q > 0.1 {
		t.Fatalf("p99 %v, want 0.091", q)
	}
	before := Metrics{"x_seconds_count": 40}
	if d := m.Sub(before); d["x_seconds_count"] != 60 || d["process_resident_memory_bytes"] != 1.5e8 {
		t.Fatalf("Sub = %v", d)
	}
	if m.Quantile("absent", 0.5) != 0 {
		t.Fatal("quantile of an absent histogram")
	}
}

// addr is a device's store address.
func addr(d Device) store.Address { return store.Address{Account: d.Account, Device: d.ID} }

// parked reads the server's parked-connection gauge.
func parked(reg *metrics.Registry) float64 {
	var b strings.Builder
	reg.WriteTo(&b)
	m, _ := ParseMetrics(strings.NewReader(b.String()))
	return m["skyd_connections_parked"]
}
