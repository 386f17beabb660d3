package sealed

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time this process has used. The benchmarks report it
// per operation beside the wall time, which on a shared machine says more
// about the neighbours than about the code.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since start.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkGroupSend compares, for a group text of about 1 KiB to n
// accounts, one v1 envelope per recipient (Encrypt n times) with one v2
// SentMessage (EncryptMulti once; "v2-static" with the recipients' static
// secrets kept, as the client does), and reports the bytes each uploads
// per message and the CPU time.
func BenchmarkGroupSend(b *testing.B) {
	w := newWorld(b)
	for _, n := range []int{10, 100, 1000} {
		ps := v2Parties(b, n)
		to := multiRecipients(ps)
		for i := range to {
			to[i].Devices = to[i].Devices[:1]
		}
		c := &Content{Type: TypeSenderKey, Sender: w.aliceCert, Message: make([]byte, 700), PadTo: 1024}
		b.Run(fmt.Sprintf("v1/%d", n), func(b *testing.B) {
			up, start := 0, cpuTime()
			for b.Loop() {
				up = 0
				for _, p := range ps {
					env, err := Encrypt(c, w.alice, p.key.Public)
					if err != nil {
						b.Fatal(err)
					}
					up += len(env)
				}
			}
			reportCPU(b, start)
			b.ReportMetric(float64(up), "bytes/msg")
		})
		cached := append([]MultiRecipient(nil), to...)
		for i := range cached {
			s, _ := StaticSecret(w.alice, cached[i].IdentityKey)
			cached[i].Static = &s
		}
		b.Run(fmt.Sprintf("v2-static/%d", n), func(b *testing.B) {
			up, start := 0, cpuTime()
			for b.Loop() {
				sent, err := EncryptMulti(c, w.alice, cached, nil)
				if err != nil {
					b.Fatal(err)
				}
				up = len(sent)
			}
			reportCPU(b, start)
			b.ReportMetric(float64(up), "bytes/msg")
		})
		b.Run(fmt.Sprintf("v2/%d", n), func(b *testing.B) {
			up, start := 0, cpuTime()
			for b.Loop() {
				sent, err := EncryptMulti(c, w.alice, to, nil)
				if err != nil {
					b.Fatal(err)
				}
				up = len(sent)
			}
			reportCPU(b, start)
			b.ReportMetric(float64(up), "bytes/msg")
		})
	}
}

// BenchmarkSplit is the server's part: parsing a SentMessage for n accounts
// and cutting every recipient's ReceivedMessage.
func BenchmarkSplit(b *testing.B) {
	w := newWorld(b)
	for _, n := range []int{10, 100, 1000} {
		ps := v2Parties(b, n)
		c := &Content{Type: TypeSenderKey, Sender: w.aliceCert, Message: make([]byte, 700), PadTo: 1024}
		sent, err := EncryptMulti(c, w.alice, multiRecipients(ps), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			start := cpuTime()
			for b.Loop() {
				m, err := ParseSentMessage(sent, n)
				if err != nil {
					b.Fatal(err)
				}
				for i := range m.Recipients {
					_ = m.Received(&m.Recipients[i])
				}
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N*n), "cpu-ns/copy")
		})
	}
}

// BenchmarkOpenV2 is one recipient opening its ReceivedMessage.
func BenchmarkOpenV2(b *testing.B) {
	w := newWorld(b)
	ps := v2Parties(b, 1)
	c := &Content{Type: TypeSenderKey, Sender: w.aliceCert, Message: make([]byte, 700), PadTo: 1024}
	sent, _ := EncryptMulti(c, w.alice, multiRecipients(ps), nil)
	m, _ := ParseSentMessage(sent, 1)
	rm := m.Received(&m.Recipients[0])
	for b.Loop() {
		if _, err := Open(rm, ps[0].key); err != nil {
			b.Fatal(err)
		}
	}
}
