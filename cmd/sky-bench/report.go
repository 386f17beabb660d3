package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/skymsg/sky/cmd/sky-bench/loadgen"
)

// report is what sky-bench prints (as text, or as JSON with --json).
type report struct {
	Options reportOptions `json:"options"`
	Load    *loadReport   `json:"load,omitempty"`
	Idle    struct {
		Opened    int `json:"opened,omitempty"`
		Held      int `json:"held,omitempty"`        // still open after settling
		HeldAtEnd int `json:"held_at_end,omitempty"` // still open at the end of the run
		// Server memory per idle connection: growth of its resident set
		// (and of the Go runtime's mapped memory) over the idle
		// connections opened, divided by their number.
		BytesPerConn     float64 `json:"server_rss_bytes_per_conn,omitempty"`
		HeapBytesPerConn float64 `json:"server_go_bytes_per_conn,omitempty"`
		LiveBytesPerConn float64 `json:"server_heap_objects_bytes_per_conn,omitempty"`
	} `json:"idle"`
	Server struct {
		Start, Idle, Load *serverReport `json:",omitempty"`
	} `json:"server"`
	Machine struct {
		Load1 string `json:"load_average_1m,omitempty"` // of this machine, at the end
		CPUs  int    `json:"cpus"`
	} `json:"machine"`
}

type reportOptions struct {
	Pairs    int     `json:"pairs"`
	Rate     float64 `json:"rate"`
	Window   int     `json:"window"`
	Size     int     `json:"size"`
	Duration string  `json:"duration"`
	Idle     int     `json:"idle"`
}

type loadReport struct {
	MsgsPerSec  float64 `json:"delivered_per_sec"`
	SentPerSec  float64 `json:"sent_acknowledged_per_sec"`
	Delivered   int64   `json:"delivered"`
	P50ms       float64 `json:"p50_ms"`
	P90ms       float64 `json:"p90_ms"`
	P99ms       float64 `json:"p99_ms"`
	P999ms      float64 `json:"p999_ms"`
	Maxms       float64 `json:"max_ms"`
	Samples     int     `json:"latency_samples"`
	Errors      int64   `json:"errors"`
	FirstError  string  `json:"first_error,omitempty"`
	Undelivered int64   `json:"undelivered"`
	// From the server's metrics over the run.
	ServerBatchOps    float64 `json:"server_ops_per_commit,omitempty"`
	ServerCommitP50ms float64 `json:"server_commit_p50_ms,omitempty"`
	ServerCommitP99ms float64 `json:"server_commit_p99_ms,omitempty"`
	ServerPushP99ms   float64 `json:"server_send_to_push_p99_ms,omitempty"`
}

type serverReport struct {
	RSS        float64 `json:"rss_bytes"`
	GoMemory   float64 `json:"go_memory_bytes"`
	Heap       float64 `json:"heap_objects_bytes"`
	Goroutines float64 `json:"goroutines"`
	Open       float64 `json:"connections_open"`
	Parked     float64 `json:"connections_parked"`
}

func serverFigures(m loadgen.Metrics) *serverReport {
	if m == nil {
		return nil
	}
	return &serverReport{
		RSS: m["process_resident_memory_bytes"], GoMemory: m["go_memory_total_bytes"],
		Heap: m["go_heap_objects_bytes"], Goroutines: m["go_goroutines"],
		Open: m["skyd_connections_open"], Parked: m["skyd_connections_parked"],
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func loadFigures(r *loadgen.Result) *loadReport {
	secs := r.Elapsed.Seconds()
	return &loadReport{
		MsgsPerSec: float64(r.Delivered) / secs, SentPerSec: float64(r.Sent) / secs, Delivered: r.Delivered,
		P50ms: ms(r.Latency.P50), P90ms: ms(r.Latency.P90), P99ms: ms(r.Latency.P99), P999ms: ms(r.Latency.P999), Maxms: ms(r.Latency.Max),
		Samples: r.Latency.Count, Errors: r.Errors, FirstError: r.FirstErr, Undelivered: r.Lost,
	}
}

// finish adds what describes the machine the numbers come from.
func (r *report) finish() {
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		r.Machine.Load1 = strings.Fields(string(b))[0]
	}
	r.Machine.CPUs = numCPU()
}

func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

func (r *report) print(w io.Writer) {
	o := r.Options
	if l := r.Load; l != nil {
		mode := "closed loop, window " + fmt.Sprint(o.Window)
		if o.Rate > 0 {
			mode = fmt.Sprintf("fixed rate %.0f msgs/s", o.Rate)
		}
		fmt.Fprintf(w, "load       %d pairs, %s, %d-byte messages, measured %s\n", o.Pairs, mode, o.Size, o.Duration)
		fmt.Fprintf(w, "throughput %.0f msgs/s delivered (%d messages), %.0f sends/s acknowledged\n", l.MsgsPerSec, l.Delivered, l.SentPerSec)
		fmt.Fprintf(w, "latency    send-to-deliver p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  p99.9 %.2f ms  max %.2f ms (%d samples)\n",
			l.P50ms, l.P90ms, l.P99ms, l.P999ms, l.Maxms, l.Samples)
		if l.ServerBatchOps > 0 {
			fmt.Fprintf(w, "server     %.0f operations per group commit, commit p50 %.2f ms p99 %.2f ms, send-to-push p99 %.2f ms (from its metrics)\n",
				l.ServerBatchOps, l.ServerCommitP50ms, l.ServerCommitP99ms, l.ServerPushP99ms)
		}
		fmt.Fprintf(w, "errors     %d", l.Errors)
		if l.FirstError != "" {
			fmt.Fprintf(w, " (first: %s)", l.FirstError)
		}
		fmt.Fprintf(w, "; %d acknowledged sends undelivered at the end\n", l.Undelivered)
	}
	if r.Idle.Opened > 0 {
		fmt.Fprintf(w, "idle       %d connections opened, %d held after settling, %d at the end\n", r.Idle.Opened, r.Idle.Held, r.Idle.HeldAtEnd)
		if r.Idle.BytesPerConn != 0 {
			fmt.Fprintf(w, "memory     %.0f bytes of server RSS per idle connection (Go runtime memory %.0f, heap objects %.0f)\n", r.Idle.BytesPerConn, r.Idle.HeapBytesPerConn, r.Idle.LiveBytesPerConn)
		}
	}
	for _, s := range []struct {
		when string
		r    *serverReport
	}{{"at start", r.Server.Start}, {"idle held", r.Server.Idle}, {"after load", r.Server.Load}} {
		if s.r != nil {
			fmt.Fprintf(w, "server     %-10s RSS %s, Go memory %s (heap objects %s), %.0f goroutines, %.0f connections (%.0f parked)\n",
				s.when, mib(s.r.RSS), mib(s.r.GoMemory), mib(s.r.Heap), s.r.Goroutines, s.r.Open, s.r.Parked)
		}
	}
	fmt.Fprintf(w, "machine    %d CPUs, load average %s\n", r.Machine.CPUs, r.Machine.Load1)
}

func numCPU() int { return runtime.NumCPU() }
