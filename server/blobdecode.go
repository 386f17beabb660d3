package server

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/wire"
)

// decodeRequest decodes a client frame as wire.Decode does, except that a
// plainly encoded BlobPut's data is left aliasing data instead of copied
// (256 KiB per upload chunk, and as much garbage; the protobuf runtime
// always copies bytes fields): blobPut hands it to the store, which writes
// it before returning, and the read buffer is reused only after that.
// Every other frame, and a BlobPut encoded any other way (fields repeated
// or unknown), goes through wire.Decode into memory of its own.
func decodeRequest(data []byte) (*wire.Frame, error) {
	if f, ok := decodeBlobPut(data); ok {
		return f, nil
	}
	return wire.Decode(data, wire.MaxClientFrameBytes)
}

// Field numbers in wire/sky.proto: Frame.request, Request.id and
// .blob_put, BlobPut.id, .offset and .data.
const (
	frameRequestField = 3
	requestIDField    = 1
	requestPutField   = 31
	putIDField        = 1
	putOffsetField    = 2
	putDataField      = 3
)

// decodeBlobPut decodes a Frame holding only a Request holding only an id
// and a BlobPut with at most its three fields, each at most once; false
// for anything else.
func decodeBlobPut(data []byte) (*wire.Frame, bool) {
	if len(data) > wire.MaxClientFrameBytes {
		return nil, false
	}
	var reqB, putB []byte
	var id uint64
	ok := wire.EachField(data, func(n protowire.Number, typ protowire.Type, v []byte, _ uint64) bool {
		if n != frameRequestField || typ != protowire.BytesType || reqB != nil {
			return false
		}
		reqB = v
		return true
	}) && wire.EachField(reqB, func(n protowire.Number, typ protowire.Type, v []byte, x uint64) bool {
		switch {
		case n == requestIDField && typ == protowire.VarintType:
			id = x
		case n == requestPutField && typ == protowire.BytesType && putB == nil:
			putB = v
		default:
			return false
		}
		return true
	})
	if !ok || reqB == nil || putB == nil {
		return nil, false
	}
	put := new(wire.BlobPut)
	seen := 0
	ok = wire.EachField(putB, func(n protowire.Number, typ protowire.Type, v []byte, x uint64) bool {
		if n < putIDField || n > putDataField || seen&(1<<n) != 0 {
			return false
		}
		seen |= 1 << n
		switch {
		case n == putIDField && typ == protowire.BytesType:
			put.Id = v
		case n == putOffsetField && typ == protowire.VarintType:
			put.Offset = x
		case n == putDataField && typ == protowire.BytesType:
			put.Data = v
		default:
			return false
		}
		return true
	})
	if !ok {
		return nil, false
	}
	return &wire.Frame{Body: &wire.Frame_Request{Request: &wire.Request{Id: id, Op: &wire.Request_BlobPut{BlobPut: put}}}}, true
}
