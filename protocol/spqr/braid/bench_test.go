package braid

import "testing"

// BenchmarkLockstep measures the braid's average cost per message over a
// long conversation in which both sides alternate (one message each way per
// two operations), epoch changes included, and reports the average SPQR
// message size and the number of messages per epoch.
func BenchmarkLockstep(b *testing.B) {
	x, y := New([]byte("k"), true), New([]byte("k"), false)
	var size, msgs int
	for b.Loop() {
		m, _, _ := x.Send()
		size += len(AppendMessage(nil, m, 1000))
		y.Recv(m)
		msgs++
		x, y = y, x
	}
	b.ReportMetric(float64(size)/float64(msgs), "bytes/msg")
	b.ReportMetric(float64(msgs)/float64(max(x.Epoch()-1, 1)), "msgs/epoch")
}

// statesAt runs a lockstep exchange until the state that sends next is in
// phase p, and returns both states.
func statesAt(b *testing.B, p phase) (from, to *State) {
	x, y := New([]byte("k"), true), New([]byte("k"), false)
	for range 10000 {
		if x.phase == p {
			return x, y
		}
		m, _, _ := x.Send()
		if _, err := y.Recv(m); err != nil {
			b.Fatal(err)
		}
		x, y = y, x
	}
	b.Fatalf("phase %v not reached", p)
	return nil, nil
}

// BenchmarkEpochChange measures the messages that do an epoch's public-key
// work: sampling the key pair (first header chunk), encapsulating to the
// header (first ct1 chunk), finishing the encapsulation when t̂ completes,
// and decapsulating when ct2 completes.
func BenchmarkEpochChange(b *testing.B) {
	b.Run("SampleKeys", func(b *testing.B) {
		s, _ := statesAt(b, keysUnsampled)
		for b.Loop() {
			s.Clone().Send()
		}
	})
	b.Run("Encapsulate1", func(b *testing.B) {
		s, _ := statesAt(b, headerReceived)
		for b.Loop() {
			s.Clone().Send()
		}
	})
	b.Run("Encapsulate2", func(b *testing.B) {
		// The key owner's message that completes t̂ at the encapsulator.
		owner, enc := statesAt(b, headerSent)
		for enc.phase != ct2Sampled {
			m, _, _ := owner.Send()
			c := enc.Clone()
			c.Recv(m)
			if c.phase == ct2Sampled {
				for b.Loop() {
					enc.Clone().Recv(m)
				}
				return
			}
			enc = c
			r, _, _ := enc.Send()
			owner.Recv(r)
		}
	})
	b.Run("Decapsulate", func(b *testing.B) {
		enc, owner := statesAt(b, ct2Sampled)
		for {
			m, _, _ := enc.Send()
			c := owner.Clone()
			if sec, _ := c.Recv(m); sec != nil {
				for b.Loop() {
					owner.Clone().Recv(m)
				}
				return
			}
			owner = c
		}
	})
}

// BenchmarkSteadyChunk measures a message that carries a redundant chunk of
// t̂ (the worst steady-state case: an interpolated chunk) and its receipt.
func BenchmarkSteadyChunk(b *testing.B) {
	owner, enc := statesAt(b, headerSent)
	for range 40 { // past the 36 systematic chunks
		owner.Send()
	}
	for b.Loop() {
		m, _, _ := owner.Send()
		enc.Recv(m)
	}
}

// BenchmarkMarshal measures serializing and restoring the largest state
// (the key owner streaming t̂ while collecting ct1).
func BenchmarkMarshal(b *testing.B) {
	s, _ := statesAt(b, headerSent)
	var n State
	var size int
	for b.Loop() {
		buf, _ := s.MarshalBinary()
		size = len(buf)
		n.UnmarshalBinary(buf)
	}
	b.ReportMetric(float64(size), "state-bytes")
}
