package wire

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"
)

func marshalDet(t testing.TB, f *Frame) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFastResponses(t *testing.T) {
	for _, id := range []uint64{0, 1, 127, 128, 1 << 40, 1<<64 - 1} {
		sent := marshalDet(t, &Frame{Body: &Frame_Response{Response: &Response{Id: id, Result: &Response_Sent{Sent: &Sent{}}}}})
		if got := AppendSentResponse([]byte("x"), id); !bytes.Equal(got[1:], sent) || len(sent) != EmptyResultLen(id) {
			t.Errorf("Sent for id %d: %x, want %x (len %d)", id, got[1:], sent, EmptyResultLen(id))
		}
		acked := marshalDet(t, &Frame{Body: &Frame_Response{Response: &Response{Id: id, Result: &Response_Acked{Acked: &Acked{}}}}})
		if got := AppendAckedResponse(nil, id); !bytes.Equal(got, acked) {
			t.Errorf("Acked for id %d: %x, want %x", id, got, acked)
		}
	}
}

func randomEnvelope(r *rand.Rand) (PushEnvelope, *Envelope) {
	pe := PushEnvelope{ServerTime: r.Int64N(1 << 40)}
	if r.IntN(4) == 0 {
		pe.ServerTime = 0
	}
	if r.IntN(5) > 0 {
		pe.ID = make([]byte, 16)
		for i := range pe.ID {
			pe.ID[i] = byte(r.Uint32())
		}
	}
	pe.Content = make([]byte, r.IntN(300))
	for i := range pe.Content {
		pe.Content[i] = byte(r.Uint32())
	}
	if len(pe.Content) == 0 && r.IntN(2) == 0 {
		pe.Content = nil
	}
	return pe, &Envelope{Id: pe.ID, ServerTime: pe.ServerTime, Content: pe.Content}
}

// TestFastPush: hand-encoded Push frames are byte for byte what
// proto.Marshal makes, and decode to the same envelopes.
func TestFastPush(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		n := 1 + r.IntN(6)
		var pes []PushEnvelope
		push := &Push{}
		for range n {
			pe, e := randomEnvelope(r)
			pes = append(pes, pe)
			push.Envelopes = append(push.Envelopes, e)
		}
		want := marshalDet(t, &Frame{Body: &Frame_Push{Push: push}})
		fields := 0
		for i := range pes {
			fields += pes[i].FieldLen()
		}
		got := AppendPushPrefix(nil, fields)
		for i := range pes {
			got = pes[i].AppendField(got)
		}
		if !bytes.Equal(got, want) || PushFrameLen(fields) != len(want) {
			t.Fatalf("push of %d envelopes:\n got %x\nwant %x (PushFrameLen %d)", n, got, want, PushFrameLen(fields))
		}
		f, err := Decode(got, MaxServerFrameBytes)
		if err != nil || !proto.Equal(f.GetPush(), push) {
			t.Fatalf("decoded %v, %v", f, err)
		}
	}
}

func BenchmarkPushEncode(b *testing.B) {
	content := make([]byte, 1024)
	id := make([]byte, 16)
	b.Run("fast", func(b *testing.B) {
		buf := make([]byte, 0, 64<<10)
		b.ReportAllocs()
		for b.Loop() {
			buf = buf[:0]
			envs := make([]PushEnvelope, 0, 16)
			fields := 0
			for range 16 {
				envs = append(envs, PushEnvelope{ID: id, ServerTime: 1700000000, Content: content})
				fields += envs[len(envs)-1].FieldLen()
			}
			buf = AppendPushPrefix(buf, fields)
			for i := range envs {
				buf = envs[i].AppendField(buf)
			}
		}
	})
	b.Run("proto", func(b *testing.B) {
		buf := make([]byte, 0, 64<<10)
		b.ReportAllocs()
		for b.Loop() {
			push := &Push{}
			for range 16 {
				push.Envelopes = append(push.Envelopes, &Envelope{Id: id, ServerTime: 1700000000, Content: content})
			}
			buf, _ = proto.MarshalOptions{}.MarshalAppend(buf[:0], &Frame{Body: &Frame_Push{Push: push}})
		}
	})
}
