package conn

import (
	"bytes"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/wire"
)

// Download chunks are read in place: a BlobData response keeps the read
// buffer it arrived in (no protobuf copy of its 256 KiB), the next frame
// is read into another, and a transfer that is done with a chunk hands
// its buffer back with RecycleChunk, so a download neither copies nor
// allocates per chunk.
const (
	// chunkBufBytes is the size of a fresh chunk read buffer: a chunk's
	// frame with room to spare.
	chunkBufBytes = wire.BlobTransferBytes + 64<<10
	// minChunkBuf is the least a recycled buffer must hold to be read
	// into again without growing (each reuse loses the few header bytes
	// before the data).
	minChunkBuf = wire.BlobTransferBytes + 4<<10
)

// chunkBufs are recycled chunk buffers, empty, each at least minChunkBuf.
var chunkBufs sync.Pool

// nextReadBuf returns an empty buffer to read the frame after a chunk
// into: a recycled one if there is one.
func nextReadBuf() bytes.Buffer {
	if b, ok := chunkBufs.Get().([]byte); ok {
		return *bytes.NewBuffer(b)
	}
	return *bytes.NewBuffer(make([]byte, 0, chunkBufBytes))
}

// RecycleChunk gives back the data of a BlobData response this connection
// delivered, once the caller no longer uses it (nor anything of that
// response): the connection reads later frames into that memory.
func (c *Conn) RecycleChunk(data []byte) {
	if cap(data) >= minChunkBuf {
		chunkBufs.Put(data[:0])
	}
}

// Field numbers in wire/sky.proto: Frame.response, Response.id and
// .blob_data, BlobData.data and .size.
const (
	frameResponseField = 4
	responseIDField    = 1
	responseDataField  = 34
	blobDataField      = 1
	blobSizeField      = 2
)

// decodeBlobData decodes a Frame holding only a Response holding only an
// id and a BlobData with at most its two fields, each at most once, with
// the data aliasing b rather than copied (the protobuf runtime always
// copies bytes fields); false for anything else, which wire.Decode then
// decodes, or refuses.
func decodeBlobData(b []byte) (*wire.Frame, bool) {
	if len(b) > wire.MaxServerFrameBytes {
		return nil, false
	}
	var respB, dataB []byte
	var id uint64
	seen := 0
	ok := wire.EachField(b, func(n protowire.Number, typ protowire.Type, v []byte, _ uint64) bool {
		if n != frameResponseField || typ != protowire.BytesType || respB != nil {
			return false
		}
		respB = v
		return true
	}) && wire.EachField(respB, func(n protowire.Number, typ protowire.Type, v []byte, x uint64) bool {
		switch {
		case n == responseIDField && typ == protowire.VarintType && seen&1 == 0:
			id, seen = x, seen|1
		case n == responseDataField && typ == protowire.BytesType && dataB == nil:
			dataB = v
		default:
			return false
		}
		return true
	})
	if !ok || respB == nil || dataB == nil {
		return nil, false
	}
	d := new(wire.BlobData)
	seen = 0
	ok = wire.EachField(dataB, func(n protowire.Number, typ protowire.Type, v []byte, x uint64) bool {
		switch {
		case n == blobDataField && typ == protowire.BytesType && seen&1 == 0:
			d.Data, seen = v, seen|1
		case n == blobSizeField && typ == protowire.VarintType && seen&2 == 0:
			d.Size, seen = x, seen|2
		default:
			return false
		}
		return true
	})
	if !ok || len(d.Data) == 0 {
		return nil, false // an empty chunk: nothing to save
	}
	return &wire.Frame{Body: &wire.Frame_Response{Response: &wire.Response{Id: id, Result: &wire.Response_BlobData{BlobData: d}}}}, true
}
