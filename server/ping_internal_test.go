package server

import (
	"bytes"
	"testing"

	"github.com/skymsg/sky/server/ws"
)

// TestPongsDoNotPileUp: a client that floods pings (it needs no account:
// pings are answered before Hello) while not reading what the server
// writes gets one pong waiting at most, the answer to its latest ping —
// not one buffered per ping, which let it grow the server's memory
// without bound while the writer waited for the socket. Frames queued
// around the pong keep their order.
func TestPongsDoNotPileUp(t *testing.T) {
	c := &conn{writing: true} // the writer is stuck on the socket: nothing leaves out
	before := ws.AppendFrame(nil, ws.OpBinary, []byte("a response"), nil)
	c.out = append(c.out, before...)
	for i := range 100_000 {
		c.queueControl(ws.OpPong, []byte{byte(i), byte(i >> 8), byte(i >> 16)})
	}
	pong := func(i int) []byte {
		return ws.AppendFrame(nil, ws.OpPong, []byte{byte(i), byte(i >> 8), byte(i >> 16)}, nil)
	}
	if want := append(bytes.Clone(before), pong(99_999)...); !bytes.Equal(c.out, want) {
		t.Fatalf("after 100,000 pings %d bytes wait to be written, want %d (the response and one pong)", len(c.out), len(want))
	}
	after := ws.AppendFrame(nil, ws.OpBinary, []byte("another response"), nil)
	c.mu.Lock()
	c.out = append(c.out, after...)
	c.mu.Unlock()
	c.queueControl(ws.OpPong, []byte("latest"))
	want := append(append(bytes.Clone(before), after...), ws.AppendFrame(nil, ws.OpPong, []byte("latest"), nil)...)
	if !bytes.Equal(c.out, want) {
		t.Fatalf("queued frames around the pong: %q, want %q", c.out, want)
	}
}
