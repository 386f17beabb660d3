package metrics

import (
	"fmt"
	"strings"
	"testing"
)

func TestExposition(t *testing.T) {
	r := NewRegistry()
	c := r.Counter("sky_requests_total", "Requests handled.", "op", "send")
	r.Counter("sky_requests_total", "Requests handled.", "op", "ack").Add(3)
	g := r.Gauge("sky_connections", "Open connections.")
	h := r.Histogram("sky_commit_seconds", "Commit latency.", []float64{0.001, 0.01})
	c.Inc()
	c.Inc()
	g.Add(5)
	g.Add(-2)
	h.Observe(0.0005)
	h.Observe(0.005)
	h.Observe(5)
	var b strings.Builder
	if _, err := r.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	want := `# HELP sky_commit_seconds Commit latency.
# TYPE sky_commit_seconds histogram
sky_commit_seconds_bucket{le="0.001"} 1
sky_commit_seconds_bucket{le="0.01"} 2
sky_commit_seconds_bucket{le="+Inf"} 3
sky_commit_seconds_sum 5.0055
sky_commit_seconds_count 3
# HELP sky_connections Open connections.
# TYPE sky_connections gauge
sky_connections 3
# HELP sky_requests_total Requests handled.
# TYPE sky_requests_total counter
sky_requests_total{op="send"} 2
sky_requests_total{op="ack"} 3
`
	if b.String() != want {
		t.Fatalf("exposition:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestMixedTypesPanics(t *testing.T) {
	r := NewRegistry()
	r.Counter("x", "x")
	defer func() {
		if recover() == nil {
			t.Fatal("registering x as a gauge after a counter did not panic")
		}
	}()
	r.Gauge("x", "x")
}

func TestProcessGauges(t *testing.T) {
	r := NewRegistry()
	r.RegisterProcess()
	n := 0.0
	r.GaugeFunc("sky_calls", "Calls.", func() float64 { n++; return n })
	var b strings.Builder
	r.WriteTo(&b)
	out := b.String()
	for _, name := range []string{"process_resident_memory_bytes", "go_memory_total_bytes", "go_heap_objects_bytes", "go_goroutines", "go_stack_bytes"} {
		i := strings.Index(out, "\n"+name+" ")
		if i < 0 {
			t.Fatalf("no %s in\n%s", name, out)
		}
		var v float64
		if _, err := fmt.Sscan(out[i+len(name)+2:], &v); err != nil || v <= 0 {
			t.Errorf("%s = %v (%v), want a positive value", name, v, err)
		}
	}
	if !strings.Contains(out, "\nsky_calls 1\n") {
		t.Errorf("a GaugeFunc is read once per scrape:\n%s", out)
	}
}
