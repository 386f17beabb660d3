// Package metrics is a small Prometheus text-format (version 0.0.4) writer
// for skyd: counters, gauges and histograms with fixed label sets chosen at
// registration.
//
// skyd needs no more than that, and keeping it this small (instead of
// depending on prometheus/client_golang and its seven transitive modules)
// makes the privacy rule easy to audit: a metric's labels are constants in
// the source, so no account ID, address or size can ever become a label.
package metrics

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Registry holds metrics and writes them in the exposition format.
type Registry struct {
	mu      sync.Mutex
	metrics []metric
	names   map[string]string // name → type, to refuse mixed registrations
}

type metric interface {
	family() (name, help, typ string)
	write(w io.Writer)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{names: map[string]string{}} }

func (r *Registry) add(m metric) {
	name, _, typ := m.family()
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.names[name]; ok && t != typ {
		panic("metrics: " + name + " registered as both " + t + " and " + typ)
	}
	r.names[name] = typ
	r.metrics = append(r.metrics, m)
}

// labelString renders constant label pairs ("k", "v", …) as {k="v",…}.
func labelString(pairs []string) string {
	if len(pairs) == 0 {
		return ""
	}
	if len(pairs)%2 != 0 {
		panic("metrics: labels must be key, value pairs")
	}
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i < len(pairs); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%s", pairs[i], strconv.Quote(pairs[i+1]))
	}
	b.WriteByte('}')
	return b.String()
}

// WriteTo writes every metric, grouped by family, sorted by name.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	ms := append([]metric(nil), r.metrics...)
	r.mu.Unlock()
	sort.SliceStable(ms, func(i, j int) bool {
		a, _, _ := ms[i].family()
		b, _, _ := ms[j].family()
		return a < b
	})
	cw := &countWriter{w: w}
	last := ""
	for _, m := range ms {
		name, help, typ := m.family()
		if name != last {
			fmt.Fprintf(cw, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
			last = name
		}
		m.write(cw)
	}
	return cw.n, cw.err
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

// Counter only goes up.
type Counter struct {
	name, help, labels string
	v                  atomic.Uint64
}

// Counter registers a counter with constant label pairs.
func (r *Registry) Counter(name, help string, labels ...string) *Counter {
	c := &Counter{name: name, help: help, labels: labelString(labels)}
	r.add(c)
	return c
}

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) { c.v.Add(n) }

// Value returns the current count.
func (c *Counter) Value() uint64 { return c.v.Load() }

func (c *Counter) family() (string, string, string) { return c.name, c.help, "counter" }
func (c *Counter) write(w io.Writer)                { fmt.Fprintf(w, "%s%s %d\n", c.name, c.labels, c.v.Load()) }

// Gauge goes up and down.
type Gauge struct {
	name, help, labels string
	v                  atomic.Int64
}

// Gauge registers a gauge with constant label pairs.
func (r *Registry) Gauge(name, help string, labels ...string) *Gauge {
	g := &Gauge{name: name, help: help, labels: labelString(labels)}
	r.add(g)
	return g
}

// Add adds d (which may be negative).
func (g *Gauge) Add(d int64) { g.v.Add(d) }

// Set sets the value.
func (g *Gauge) Set(v int64) { g.v.Store(v) }

// Value returns the current value.
func (g *Gauge) Value() int64 { return g.v.Load() }

func (g *Gauge) family() (string, string, string) { return g.name, g.help, "gauge" }
func (g *Gauge) write(w io.Writer)                { fmt.Fprintf(w, "%s%s %d\n", g.name, g.labels, g.v.Load()) }

// Histogram counts observations into fixed buckets.
type Histogram struct {
	name, help string
	labels     []string
	bounds     []float64
	counts     []atomic.Uint64 // one per bound, plus +Inf
	sumBits    atomic.Uint64
}

// Histogram registers a histogram with upper bounds (ascending) and
// constant label pairs.
func (r *Registry) Histogram(name, help string, bounds []float64, labels ...string) *Histogram {
	labelString(labels) // validate
	h := &Histogram{name: name, help: help, labels: labels, bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
	r.add(h)
	return h
}

// Observe records v.
func (h *Histogram) Observe(v float64) {
	i := sort.SearchFloat64s(h.bounds, v)
	h.counts[i].Add(1)
	for {
		old := h.sumBits.Load()
		if h.sumBits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// ObserveSince records the seconds elapsed since t.
func (h *Histogram) ObserveSince(t time.Time) { h.Observe(time.Since(t).Seconds()) }

// Count returns how many observations were made.
func (h *Histogram) Count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

func (h *Histogram) family() (string, string, string) { return h.name, h.help, "histogram" }

func (h *Histogram) write(w io.Writer) {
	var cum uint64
	for i := range h.counts {
		cum += h.counts[i].Load()
		le := "+Inf"
		if i < len(h.bounds) {
			le = strconv.FormatFloat(h.bounds[i], 'g', -1, 64)
		}
		fmt.Fprintf(w, "%s_bucket%s %d\n", h.name, labelString(append(append([]string(nil), h.labels...), "le", le)), cum)
	}
	ls := labelString(h.labels)
	fmt.Fprintf(w, "%s_sum%s %s\n", h.name, ls, strconv.FormatFloat(math.Float64frombits(h.sumBits.Load()), 'g', -1, 64))
	fmt.Fprintf(w, "%s_count%s %d\n", h.name, ls, cum)
}

// LatencyBuckets are upper bounds in seconds from 100 µs to 10 s.
var LatencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10}
