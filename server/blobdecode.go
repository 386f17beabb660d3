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
	ok := eachField(data, func(n protowire.Number, typ protowire.Type, v []byte, _ uint64) bool {
		if n != frameRequestField || typ != protowire.BytesType || reqB != nil {
			return false
		}
		reqB = v
		return true
	}) && eachField(reqB, func(n protowire.Number, typ protowire.Type, v []byte, x uint64) bool {
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
	ok = eachField(putB, func(n protowire.Number, typ protowire.Type, v []byte, x uint64) bool {
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

// eachField calls f with each field of the message b: a bytes field's
// value (aliasing b) or a varint's; false if b is malformed, holds another
// wire type, or f said false.
func eachField(b []byte, f func(protowire.Number, protowire.Type, []byte, uint64) bool) bool {
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return false
		}
		b = b[l:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.BytesType:
			v, l = protowire.ConsumeBytes(b)
			if v == nil && l >= 0 {
				v = b[:0] // present but empty: not the same as absent
			}
		case protowire.VarintType:
			x, l = protowire.ConsumeVarint(b)
		default:
			return false
		}
		if l < 0 || !f(n, typ, v, x) {
			return false
		}
		b = b[l:]
	}
	return true
}
