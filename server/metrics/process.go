package metrics

import (
	"fmt"
	"io"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
)

// GaugeFunc is a gauge whose value is read when the metrics are written.
type GaugeFunc struct {
	name, help, labels string
	fn                 func() float64
}

// GaugeFunc registers a gauge computed by fn at every scrape.
func (r *Registry) GaugeFunc(name, help string, fn func() float64, labels ...string) *GaugeFunc {
	g := &GaugeFunc{name: name, help: help, labels: labelString(labels), fn: fn}
	r.add(g)
	return g
}

func (g *GaugeFunc) family() (string, string, string) { return g.name, g.help, "gauge" }
func (g *GaugeFunc) write(w io.Writer) {
	fmt.Fprintf(w, "%s%s %s\n", g.name, g.labels, strconv.FormatFloat(g.fn(), 'g', -1, 64))
}

// RegisterProcess adds gauges for the process's own memory and goroutines:
// what an operator (and sky-bench) needs to see how much each connection
// costs. They describe the process only, never a client.
func (r *Registry) RegisterProcess() {
	r.GaugeFunc("process_resident_memory_bytes", "Resident memory of the process (RSS).", residentBytes)
	r.GaugeFunc("go_memory_total_bytes", "Memory the Go runtime holds (heap, stacks, runtime structures), not counting what it has returned to the system.", goHeld)
	r.GaugeFunc("go_heap_objects_bytes", "Memory held by live and not yet swept heap objects.", runtimeValue("/memory/classes/heap/objects:bytes"))
	r.GaugeFunc("go_stack_bytes", "Memory of goroutine stacks.", runtimeValue("/memory/classes/heap/stacks:bytes"))
	r.GaugeFunc("go_goroutines", "Goroutines that exist now.", runtimeValue("/sched/goroutines:goroutines"))
	r.GaugeFunc("go_gc_cycles", "Garbage collections completed since start.", runtimeValue("/gc/cycles/total:gc-cycles"))
}

// goHeld is the memory the Go runtime has mapped minus what it has
// released back to the system.
func goHeld() float64 {
	return runtimeValue("/memory/classes/total:bytes")() - runtimeValue("/memory/classes/heap/released:bytes")()
}

func runtimeValue(name string) func() float64 {
	return func() float64 {
		s := []metrics.Sample{{Name: name}}
		metrics.Read(s)
		switch s[0].Value.Kind() {
		case metrics.KindUint64:
			return float64(s[0].Value.Uint64())
		case metrics.KindFloat64:
			return s[0].Value.Float64()
		}
		return 0
	}
}

// residentBytes reads the resident set size from /proc (Linux); elsewhere
// it reports the memory the Go runtime has mapped, which is close.
func residentBytes() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			if pages, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return float64(pages * int64(os.Getpagesize()))
			}
		}
	}
	return goHeld()
}
