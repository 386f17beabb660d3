package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
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
// skyd subprocess and reports the growth of its resident set divided by
// b.N (bytes/conn). Run with e.g. -benchtime 5000x.
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
	p := startSkyd(b, "--data", data, "--listen", "127.0.0.1:0", "--metrics-listen", "")
	url := p.until(b, servingRE)[1]
	time.Sleep(200 * time.Millisecond)
	before := rss(b, p.cmd.Process.Pid)
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
	time.Sleep(time.Second)
	after := rss(b, p.cmd.Process.Pid)
	b.ReportMetric(float64(after-before)/float64(b.N), "bytes/conn")
	for _, c := range clients {
		c.CloseNow()
	}
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
