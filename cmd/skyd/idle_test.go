package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/server/store/sqlite"
)

// BenchmarkIdleConnections measures the memory a skyd process holds per
// idle authenticated WebSocket connection: it opens b.N connections to a
// skyd subprocess, waits until they are parked (no goroutine, no buffer),
// forces a garbage collection in skyd (through --pprof) so that the
// garbage of opening them is not counted, and reports the growth of its
// resident set (bytes/conn) and of its live heap (heap-bytes/conn) divided
// by b.N. Run with e.g. -benchtime 5000x. sky-bench --idle measures the
// same against any skyd, waiting for collections instead of forcing one.
func BenchmarkIdleConnections(b *testing.B) {
	data := b.TempDir()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(data, "skyd.db"))
	if err != nil {
		b.Fatal(err)
	}
	devs := make([]*servertest.Device, b.N)
	for i := range devs {
		pub, priv, _ := ed25519.GenerateKey(nil)
		id := fmt.Sprintf("%010d", i)
		id = strings.NewReplacer("0", "a", "1", "b").Replace(id) // the account alphabet has no 0 or 1
		h := sha256.Sum256([]byte(id))
		if err := st.AddCodes(ctx, []store.Code{{Hash: h, Period: time.Hour, Expires: time.Now().Add(time.Hour)}}); err != nil {
			b.Fatal(err)
		}
		if _, err := st.Register(ctx, store.Registration{CodeHash: h, ID: id, IdentityKey: []byte{5}, AuthKey: pub}, time.Now()); err != nil {
			b.Fatal(err)
		}
		devs[i] = &servertest.Device{Account: id, ID: 1, Key: priv}
	}
	st.Close()
	p := startSkyd(b, "--data", data, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--pprof")
	metricsURL := p.until(b, metricsRE)[1]
	url := p.until(b, servingRE)[1]
	settle := func() (rssBytes, heap float64) {
		// Two forced collections, then a moment for freed memory to be
		// returned to the system.
		for range 2 {
			if resp, err := http.Get(metricsURL + "/debug/pprof/heap?gc=1"); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
		time.Sleep(3 * time.Second)
		return float64(rss(b, p.cmd.Process.Pid)), metric(b, metricsURL, "go_heap_objects_bytes")
	}
	beforeRSS, beforeHeap := settle()
	b.ResetTimer()
	clients := make([]*servertest.Client, 0, b.N)
	for _, d := range devs {
		c, err := servertest.Dial(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Authenticate(ctx, d); err != nil {
			b.Fatal(err)
		}
		clients = append(clients, c)
	}
	b.StopTimer()
	for deadline := time.Now().Add(30 * time.Second); metric(b, metricsURL, "skyd_connections_parked") < float64(b.N); {
		if time.Now().After(deadline) {
			b.Fatalf("%v of %d idle connections parked", metric(b, metricsURL, "skyd_connections_parked"), b.N)
		}
		time.Sleep(100 * time.Millisecond)
	}
	afterRSS, afterHeap := settle()
	b.ReportMetric((afterRSS-beforeRSS)/float64(b.N), "bytes/conn")
	b.ReportMetric((afterHeap-beforeHeap)/float64(b.N), "heap-bytes/conn")
	for _, c := range clients {
		c.CloseNow()
	}
}

// metric reads one unlabelled sample from a skyd's /metrics.
func metric(b *testing.B, metricsURL, name string) float64 {
	resp, err := http.Get(metricsURL + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(text)
	if m == nil {
		b.Fatalf("no %s in skyd's metrics", name)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// rss returns the resident set size of process pid, in bytes.
func rss(b *testing.B, pid int) int64 {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Skip("no /proc: cannot measure memory here")
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(status)
	if m == nil {
		b.Fatal("no VmRSS in /proc status")
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}
