package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/skymsg/sky/server/store"
)

// BenchmarkWriteBatch measures one group commit of n 1 KiB messages plus the
// acknowledgement of the previous batch's n messages: the store's share of
// end-to-end delivery. It reports the cost per message.
func BenchmarkWriteBatch(b *testing.B) {
	for _, n := range []int{1, 64, 512} {
		b.Run(fmt.Sprint("messages=", n), func(b *testing.B) {
			ctx := context.Background()
			s, err := Open(ctx, filepath.Join(b.TempDir(), "sky.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			const devices = 64
			for i := range devices {
				id := fmt.Sprintf("acct%06d", i)
				var h [32]byte
				copy(h[:], id)
				s.AddCodes(ctx, []store.Code{{Hash: h, Period: time.Hour, Expires: time.Now().Add(time.Hour)}})
				if _, err := s.Register(ctx, store.Registration{CodeHash: h, ID: id, IdentityKey: []byte{1}, AuthKey: []byte{2}}, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
			body := make([]byte, 1024)
			var prev []store.Ack
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			for i := 0; i < b.N; i++ {
				batch := &store.Batch{QueueCap: 1 << 20, Acks: prev}
				for j := range n {
					to := store.Address{Account: fmt.Sprintf("acct%06d", j%devices), Device: 1}
					batch.Messages = append(batch.Messages, store.NewMessage{To: to, Received: time.Now(), Body: body})
				}
				if err := s.WriteBatch(ctx, batch); err != nil {
					b.Fatal(err)
				}
				prev = prev[:0]
				for j, m := range batch.Messages {
					prev = append(prev, store.Ack{To: m.To, Seqs: []uint64{batch.Seqs[j]}})
				}
			}
			b.ReportMetric(float64(b.N*n)/time.Since(start).Seconds(), "msgs/s")
			// CPU time per message is steadier than wall time on a shared
			// machine, and it is what bounds the single writer.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N*n), "cpu-µs/msg")
		})
	}
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
