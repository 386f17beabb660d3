package spqr

import "testing"

// BenchmarkConversation measures SPQR's cost per message over a long
// alternating conversation, as the ratchet drives it (the receiver works on a
// clone), epoch changes included, and reports the SPQR message size, the
// messages per epoch and the largest serialized state.
func BenchmarkConversation(b *testing.B) {
	x, y := pair(b)
	var size, msgs, state int
	for b.Loop() {
		msg, _, err := x.Send()
		if err != nil {
			b.Fatal(err)
		}
		c := y.Clone()
		if _, err := c.Recv(msg); err != nil {
			b.Fatal(err)
		}
		y = c
		size += len(msg)
		msgs++
		if msgs%64 == 0 {
			enc, _ := y.MarshalBinary()
			state = max(state, len(enc))
		}
		x, y = y, x
	}
	b.ReportMetric(float64(size)/float64(msgs), "bytes/msg")
	b.ReportMetric(float64(msgs)/float64(max(x.Epoch()-1, 1)), "msgs/epoch")
	b.ReportMetric(float64(state), "max-state-bytes")
}

// BenchmarkConversationLite is the same conversation with states in the
// SPQR-lite form: the symmetric chain alone, for comparison.
func BenchmarkConversationLite(b *testing.B) {
	x, y := pair(b)
	x.braid, y.braid = nil, nil
	for b.Loop() {
		msg, _, _ := x.Send()
		c := y.Clone()
		if _, err := c.Recv(msg); err != nil {
			b.Fatal(err)
		}
		x, y = c, x
	}
}

// BenchmarkMarshal measures encoding and decoding a state in mid-epoch, as
// a session store does for every message.
func BenchmarkMarshal(b *testing.B) {
	x, y := pair(b)
	for range 50 {
		m, _, _ := x.Send()
		y.Recv(m)
		m, _, _ = y.Send()
		x.Recv(m)
	}
	var s State
	for b.Loop() {
		enc, _ := x.MarshalBinary()
		if err := s.UnmarshalBinary(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// benchOneWay measures what a session store does with SPQR for each message
// of a one-way stream: restore, send, encode at the sender; restore, clone,
// receive, encode at the receiver.
func benchOneWay(b *testing.B, lite bool) {
	x, y := pair(b)
	if lite {
		x.braid, y.braid = nil, nil
	}
	xb, _ := x.MarshalBinary()
	yb, _ := y.MarshalBinary()
	buf := make([]byte, 0, 4096)
	for b.Loop() {
		var s, r State
		if err := s.UnmarshalBinary(xb); err != nil {
			b.Fatal(err)
		}
		msg, _, err := s.Send()
		if err != nil {
			b.Fatal(err)
		}
		xb, _ = s.AppendBinary(buf[:0])
		xb = append([]byte(nil), xb...)
		if err := r.UnmarshalBinary(yb); err != nil {
			b.Fatal(err)
		}
		c := r.Clone()
		if _, err := c.Recv(msg); err != nil {
			b.Fatal(err)
		}
		yb, _ = c.AppendBinary(buf[:0])
		yb = append([]byte(nil), yb...)
	}
}

// BenchmarkOneWay is SPQR's share of a one-way stream's steady state.
func BenchmarkOneWay(b *testing.B) { benchOneWay(b, false) }

// BenchmarkOneWayLite is the same with SPQR-lite states, for comparison.
func BenchmarkOneWayLite(b *testing.B) { benchOneWay(b, true) }
