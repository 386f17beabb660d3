package wire

import "google.golang.org/protobuf/encoding/protowire"

// EachField calls f with each field of the message b: a bytes field's
// value (aliasing b; empty but not nil when present and empty, so present
// differs from absent) or a varint's. It returns false if b is malformed,
// holds another wire type, or f said false. The hand-written fast decoders
// of BlobPut (server) and BlobData (client) share it, so both reject the
// same malformed input without copying the payload.
func EachField(b []byte, f func(protowire.Number, protowire.Type, []byte, uint64) bool) bool {
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
