package backup

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/skymsg/sky/client/store"
)

// benchStore is a store with n messages of 200 bytes.
func benchStore(b *testing.B, n int) *store.Store {
	b.Helper()
	st, err := store.Create(filepath.Join(b.TempDir(), "store"), pass, store.Options{KDF: tinyKDF})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	body := bytes.Repeat([]byte("m"), 200)
	for i := 0; i < n; i += 1000 {
		err := st.Update(func(tx *store.Tx) error {
			if i == 0 {
				if err := tx.SetAccount(store.Account{ID: "me", Server: "ws://x", DeviceID: 1}); err != nil {
					return err
				}
			}
			for j := i; j < min(n, i+1000); j++ {
				m := store.Message{Conversation: fmt.Sprint("peer", j%50), Sender: "me", MessageID: fmt.Sprint(j), Outgoing: true,
					State: store.Read, Body: store.Secret(body), SentAt: t0}
				if err := tx.AddMessage(&m); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return st
}

// peakHeap samples the heap in use while fn runs.
func peakHeap(fn func()) uint64 {
	done := make(chan struct{})
	var peak uint64
	go func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	fn()
	close(done)
	return peak
}

// BenchmarkWrite backs up n messages of 200 bytes and reports messages per
// second and the peak heap in use, which stays flat as the history grows
// (SKY_BENCH_BIG=1 adds 100,000 messages).
func BenchmarkWrite(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			st := benchStore(b, n)
			k := NewRecoveryKey()
			runtime.GC()
			b.ResetTimer()
			var peak uint64
			for range b.N {
				peak = max(peak, peakHeap(func() {
					if _, err := Write(st, io.Discard, k, Options{Now: t0}); err != nil {
						b.Fatal(err)
					}
				}))
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		})
	}
}

// BenchmarkRestore restores a backup file of n messages into a new store
// and reports messages per second, the file's bytes per message and the
// peak heap in use (flat as the history grows).
func BenchmarkRestore(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			st := benchStore(b, n)
			k := NewRecoveryKey()
			file := filepath.Join(b.TempDir(), "b.skybackup")
			if _, err := Create(st, file, k, Options{Now: t0}); err != nil {
				b.Fatal(err)
			}
			st.Close()
			fi, _ := os.Stat(file)
			runtime.GC()
			b.ResetTimer()
			var peak uint64
			for range b.N {
				dir := filepath.Join(b.TempDir(), "store")
				f, err := os.Open(file)
				if err != nil {
					b.Fatal(err)
				}
				peak = max(peak, peakHeap(func() {
					if _, err := Restore(dir, f, k, newPass, RestoreOptions{Now: t0, KDF: tinyKDF}); err != nil {
						b.Fatal(err)
					}
				}))
				f.Close()
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(fi.Size())/float64(n), "file-B/msg")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		})
	}
}

// benchSizes are the history sizes the benchmarks run (SKY_BENCH_BIG=1 adds
// 100,000 messages).
var benchSizes = func() []int {
	if os.Getenv("SKY_BENCH_BIG") == "1" {
		return []int{2000, 20000, 100000}
	}
	return []int{2000, 20000}
}()
