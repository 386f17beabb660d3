package server

import (
	"bytes"
	"testing"
	"unsafe"

	"google.golang.org/protobuf/proto"

	"github.com/skymsg/sky/wire"
)

// inside reports whether p lies in buf's memory.
func inside(p, buf []byte) bool {
	if len(p) == 0 {
		return false
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	at := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
	return at >= start && at < start+uintptr(len(buf))
}

// TestDecodeRequestAliasesOnlyBlobPut: a BlobPut's data is read in place
// (no copy of the chunk); every other request, including one that names
// blob_put and then another op (which wins), owns its bytes, since a
// handler may keep them after the read buffer is reused.
func TestDecodeRequestAliasesOnlyBlobPut(t *testing.T) {
	chunk := bytes.Repeat([]byte{7}, 1000)
	put := &wire.Request{Id: 1, Op: &wire.Request_BlobPut{BlobPut: &wire.BlobPut{Id: make([]byte, 16), Offset: 0, Data: chunk}}}
	send := &wire.Request{Id: 2, Op: &wire.Request_Send{Send: &wire.Send{Content: chunk, Sealed: true}}}
	frame := func(r *wire.Request) []byte {
		b, err := proto.Marshal(&wire.Frame{Body: &wire.Frame_Request{Request: r}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Protobuf merges two Request fields; the second's op wins.
	putThenSend := append(frame(put), frame(send)...)
	for _, tc := range []struct {
		name  string
		buf   []byte
		alias bool
		data  func(*wire.Frame) []byte
	}{
		{"blob put", frame(put), true, func(f *wire.Frame) []byte { return f.GetRequest().GetBlobPut().GetData() }},
		{"send", frame(send), false, func(f *wire.Frame) []byte { return f.GetRequest().GetSend().GetContent() }},
		{"blob put then send", putThenSend, false, func(f *wire.Frame) []byte { return f.GetRequest().GetSend().GetContent() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := decodeRequest(tc.buf)
			if err != nil {
				t.Fatal(err)
			}
			d := tc.data(f)
			if !bytes.Equal(d, chunk) {
				t.Fatalf("decoded %d bytes, want the %d sent", len(d), len(chunk))
			}
			if got := inside(d, tc.buf); got != tc.alias {
				t.Fatalf("data aliases the read buffer: %v, want %v", got, tc.alias)
			}
		})
	}
	for _, bad := range [][]byte{{0x1a, 0x05, 0xfa, 0x01}, {0x1a}, {0xff}} {
		if _, err := decodeRequest(bad); err == nil {
			t.Errorf("decodeRequest(%x) accepted malformed bytes", bad)
		}
	}
}

// FuzzDecodeBlobPut: whatever the bytes, the in-place BlobPut decoder
// accepts only what the protobuf runtime decodes to the same frame.
func FuzzDecodeBlobPut(f *testing.F) {
	b, _ := proto.Marshal(&wire.Frame{Body: &wire.Frame_Request{Request: &wire.Request{Id: 9, Op: &wire.Request_BlobPut{BlobPut: &wire.BlobPut{Id: make([]byte, 16), Offset: 1 << 18, Data: []byte("chunk")}}}}})
	f.Add(b)
	f.Add([]byte{0x1a, 0x03, 0xfa, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := decodeBlobPut(b)
		if !ok {
			return
		}
		want, err := wire.Decode(b, wire.MaxClientFrameBytes)
		if err != nil {
			t.Fatalf("decodeBlobPut accepted what wire.Decode refuses: %v", err)
		}
		if !proto.Equal(got, want) {
			t.Fatalf("decodeBlobPut = %v, wire.Decode = %v", got, want)
		}
	})
}
