package conn

import (
	"bytes"
	"testing"
	"unsafe"

	"google.golang.org/protobuf/proto"

	"github.com/skymsg/sky/wire"
)

func encodeFrame(t testing.TB, f *wire.Frame) []byte {
	b, err := proto.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func chunkFrame(t testing.TB, id uint64, data []byte, size uint64) []byte {
	return encodeFrame(t, &wire.Frame{Body: &wire.Frame_Response{Response: &wire.Response{Id: id, Result: &wire.Response_BlobData{BlobData: &wire.BlobData{Data: data, Size: size}}}}})
}

// TestDecodeBlobData: a download chunk is read in place, and only a plain
// BlobData response is; anything else (another result, an error beside
// it, a repeated field, an empty chunk, bad bytes) is left to wire.Decode.
func TestDecodeBlobData(t *testing.T) {
	chunk := bytes.Repeat([]byte{5}, 1000)
	data := chunkFrame(t, 7, chunk, 1<<20)
	f, ok := decodeBlobData(data)
	if !ok {
		t.Fatal("a plain BlobData response was not decoded in place")
	}
	got := f.GetResponse().GetBlobData().GetData()
	if f.GetResponse().GetId() != 7 || f.GetResponse().GetBlobData().GetSize() != 1<<20 || !bytes.Equal(got, chunk) {
		t.Fatalf("decoded %v", f)
	}
	if start, at := uintptr(unsafe.Pointer(&data[0])), uintptr(unsafe.Pointer(&got[0])); at < start || at >= start+uintptr(len(data)) {
		t.Fatal("the chunk was copied, not read in place")
	}
	withError := encodeFrame(t, &wire.Frame{Body: &wire.Frame_Response{Response: &wire.Response{Id: 7, Error: wire.NewError(wire.Code_NOT_FOUND, "gone"), Result: &wire.Response_BlobData{BlobData: &wire.BlobData{Data: chunk}}}}})
	sent := encodeFrame(t, &wire.Frame{Body: &wire.Frame_Response{Response: &wire.Response{Id: 7, Result: &wire.Response_Sent{Sent: &wire.Sent{}}}}})
	for name, b := range map[string][]byte{
		"with an error": withError, "another result": sent, "twice": append(bytes.Clone(data), data...),
		"empty chunk": chunkFrame(t, 7, nil, 9), "truncated": data[:len(data)-1],
	} {
		if _, ok := decodeBlobData(b); ok {
			t.Errorf("%s: decoded in place, want it left to wire.Decode", name)
		}
	}
}

// TestRecycleChunk: a chunk's buffer given back is read into again; one
// too small to hold a chunk is not kept.
func TestRecycleChunk(t *testing.T) {
	var c Conn
	c.RecycleChunk(make([]byte, 10, minChunkBuf-1))
	big := make([]byte, 10, minChunkBuf)
	c.RecycleChunk(big)
	for range 10 { // sync.Pool may drop what it holds; it never hands back the small one
		rb := nextReadBuf()
		if rb.Cap() < minChunkBuf {
			t.Fatalf("a %d-byte buffer came back, want at least %d", rb.Cap(), minChunkBuf)
		}
	}
}

// FuzzDecodeBlobData: whatever the server sends, the in-place decoder
// accepts only what wire.Decode decodes to the same frame.
func FuzzDecodeBlobData(f *testing.F) {
	f.Add(chunkFrame(f, 7, []byte("chunk"), 9))
	f.Add([]byte{0x22, 0x03, 0x92, 0x02, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := decodeBlobData(b)
		if !ok {
			return
		}
		want, err := wire.Decode(b, wire.MaxServerFrameBytes)
		if err != nil {
			t.Fatalf("decodeBlobData accepted what wire.Decode refuses: %v", err)
		}
		if !proto.Equal(got, want) {
			t.Fatalf("decodeBlobData = %v, wire.Decode = %v", got, want)
		}
	})
}
