//go:build unix

package keyfile

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time (user + system) this process has used. The
// benchmarks report it per operation beside the wall time, because on a
// shared machine the wall time of a memory-hard function depends on the load
// while its CPU time much less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric((cpuTime()-start).Seconds()/float64(b.N), "cpu-s/op")
}

// BenchmarkDeriveDefault measures one Argon2id derivation with the Default
// parameters: the cost of every unlock. With 2 lanes on 2 idle cores the
// wall time is about half the CPU time.
func BenchmarkDeriveDefault(b *testing.B) {
	salt := make([]byte, SaltSize)
	start := cpuTime()
	for b.Loop() {
		k := Derive(Default, salt, realPass)
		k.Zero()
	}
	reportCPU(b, start)
}

// BenchmarkUnlock measures a whole key-file unlock with the Default parameters
// for the real, the panic and a wrong passphrase (acceptance test 22(c)): the
// three must cost the same, up to noise.
func BenchmarkUnlock(b *testing.B) {
	f, _, _ := newFile(b, Default)
	for _, tc := range []struct {
		name string
		pass []byte
	}{{"real", realPass}, {"panic", panicPass}, {"wrong", wrongPass}} {
		b.Run(tc.name, func(b *testing.B) {
			start := cpuTime()
			for b.Loop() {
				u, _ := f.Unlock(tc.pass)
				u.Zero()
			}
			reportCPU(b, start)
		})
	}
}
