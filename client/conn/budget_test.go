package conn

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/wire"
)

// hostileServer completes the handshake and then sends frames, each
// already encoded; it keeps the connection open until the test ends.
func hostileServer(t *testing.T, frames func(yield func([]byte) bool)) string {
	t.Helper()
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx := r.Context()
		if _, _, err := ws.Read(ctx); err != nil { // Hello
			return
		}
		welcome, _ := wire.Encode(&wire.Frame{Body: &wire.Frame_Welcome{Welcome: &wire.Welcome{Version: wire.Version, Challenge: make([]byte, wire.ChallengeBytes)}}})
		if ws.Write(ctx, websocket.MessageBinary, welcome) != nil {
			return
		}
		for f := range frames {
			if ws.Write(ctx, websocket.MessageBinary, f) != nil {
				return
			}
		}
		select {
		case <-done:
		case <-ctx.Done():
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// pushFrame encodes a Push frame of envelopes, each given as its encoded
// Envelope message.
func pushFrame(envelopes [][]byte) []byte {
	var push []byte
	for _, e := range envelopes {
		push = protowire.AppendTag(push, 1, protowire.BytesType)
		push = protowire.AppendBytes(push, e)
	}
	f := protowire.AppendTag(nil, 5, protowire.BytesType)
	return protowire.AppendBytes(f, push)
}

// emptyEnvelopes is the red team's frame: 1 MiB of empty envelopes, each
// two bytes on the wire (524,287 of them).
func emptyEnvelopes() []byte {
	n := (wire.MaxServerFrameBytes - 8) / 2
	return pushFrame(make([][]byte, n))
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestHostilePushOfEmptyEnvelopes: a server's 1 MiB frame of empty
// envelopes ends the connection before it is decoded (issue 10, item 8),
// and 16 of them cost the client almost nothing.
func TestHostilePushOfEmptyEnvelopes(t *testing.T) {
	frame := emptyEnvelopes()
	before := heapInUse()
	url := hostileServer(t, func(yield func([]byte) bool) {
		for range PushBuffer {
			if !yield(frame) {
				return
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("the connection took the hostile frames")
	}
	if err := c.Err(); !errors.Is(err, wire.ErrMalformed) || !strings.Contains(err.Error(), "hostile") {
		t.Fatalf("connection ended with %v, want a refused frame", err)
	}
	after := heapInUse()
	t.Logf("heap before %d KiB, after the hostile frames %d KiB", before>>10, after>>10)
	if after > before+16<<20 {
		t.Fatalf("heap grew from %d to %d bytes", before, after)
	}
}

// TestFrameShape: the shape check before decoding, table-driven.
func TestFrameShape(t *testing.T) {
	env := func(content int) []byte {
		e := protowire.AppendTag(nil, 1, protowire.BytesType)
		e = protowire.AppendBytes(e, make([]byte, 16))
		e = protowire.AppendTag(e, 4, protowire.BytesType)
		return protowire.AppendBytes(e, make([]byte, content))
	}
	many := func(n, content int) [][]byte {
		out := make([][]byte, n)
		for i := range out {
			out[i] = env(content)
		}
		return out
	}
	// A response whose repeated nested messages are many and empty.
	bundles := protowire.AppendTag(nil, 4, protowire.BytesType)
	var resp []byte
	for range MaxFrameFields {
		resp = protowire.AppendTag(resp, 1, protowire.VarintType)
		resp = protowire.AppendVarint(resp, 1)
	}
	bundles = protowire.AppendBytes(bundles, resp)
	for _, tc := range []struct {
		name  string
		frame []byte
		ok    bool
	}{
		{"one envelope", pushFrame(many(1, 1024)), true},
		{"a full push", pushFrame(many(wire.MaxPushEnvelopes, 400)), true},
		{"one envelope too many", pushFrame(many(wire.MaxPushEnvelopes+1, 1)), false},
		{"1 MiB of empty envelopes", emptyEnvelopes(), false},
		{"a response of too many fields", bundles, false},
		{"malformed is left to Decode", []byte{0x2a, 0xff}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkFrameShape(tc.frame)
			if (err == nil) != tc.ok {
				t.Fatalf("checkFrameShape = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
		})
	}
}

// TestQueuedPushBudget: pushes the owner has not taken are bounded by
// their decoded size: the connection stops reading, and resumes as the
// owner takes them, in order and with nothing lost.
func TestQueuedPushBudget(t *testing.T) {
	const frames = 64
	const content = 900
	const perFrame = 1000 // about 1 MiB per frame: 64 MiB in all
	url := hostileServer(t, func(yield func([]byte) bool) {
		for i := range frames {
			envs := make([][]byte, perFrame)
			for j := range envs {
				e := protowire.AppendTag(nil, 2, protowire.VarintType)
				e = protowire.AppendVarint(e, uint64(i))
				e = protowire.AppendTag(e, 4, protowire.BytesType)
				envs[j] = protowire.AppendBytes(e, make([]byte, content))
			}
			if !yield(pushFrame(envs)) {
				return
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The owner is busy: the queue fills to its budget and stops there.
	deadline := time.Now().Add(5 * time.Second)
	for c.queue.held() < MaxQueuedPushBytes/2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if held := c.queue.held(); held > MaxQueuedPushBytes || held == 0 {
		t.Fatalf("%d bytes of pushes held, budget %d", held, MaxQueuedPushBytes)
	}
	t.Logf("held %d KiB of decoded pushes while the owner was busy", c.queue.held()>>10)
	for i := range frames {
		select {
		case envs := <-c.Pushes():
			if len(envs) != perFrame || envs[0].GetServerTime() != int64(i) {
				t.Fatalf("push %d: %d envelopes of frame %d", i, len(envs), envs[0].GetServerTime())
			}
		case <-ctx.Done():
			t.Fatalf("push %d never came", i)
		}
	}
}

// FuzzFrameShape: the shape check never panics, and a frame it lets
// through decodes to a push of at most wire.MaxPushEnvelopes envelopes.
func FuzzFrameShape(f *testing.F) {
	f.Add(pushFrame(make([][]byte, 3)))
	f.Add(pushFrame(make([][]byte, wire.MaxPushEnvelopes+1)))
	f.Add([]byte{0x2a, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkFrameShape(b) != nil {
			return
		}
		fr, err := wire.Decode(b, wire.MaxServerFrameBytes)
		if err != nil {
			return
		}
		if n := len(fr.GetPush().GetEnvelopes()); n > wire.MaxPushEnvelopes {
			t.Fatalf("a push of %d envelopes passed", n)
		}
	})
}
