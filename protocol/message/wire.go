package message

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/protocol/internal/errs"
)

// field is one decoded protobuf field of a known number.
type field struct {
	varint uint64
	bytes  []byte
	set    bool
}

// decodeFields reads a protobuf message whose known fields are numbered
// 1..len(kinds); kinds[i-1] is the wire type field i must have. Unknown
// fields are skipped, as protobuf requires; a known field of the wrong wire
// type, a truncated field or a malformed tag is an error. A repeated known
// field keeps its last value (protobuf's rule for singular fields). Byte
// fields alias b.
func decodeFields(b []byte, kinds []protowire.Type, out []field) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errs.New(errs.InvalidMessage, "malformed protobuf tag")
		}
		b = b[n:]
		if num >= 1 && int(num) <= len(kinds) {
			if typ != kinds[num-1] {
				return errs.Newf(errs.InvalidMessage, "protobuf field %d has wire type %d", num, typ)
			}
			f := &out[num-1]
			switch typ {
			case protowire.VarintType:
				v, m := protowire.ConsumeVarint(b)
				if m < 0 {
					return errs.Newf(errs.InvalidMessage, "protobuf field %d truncated", num)
				}
				f.varint, f.set = v, true
				b = b[m:]
			case protowire.BytesType:
				v, m := protowire.ConsumeBytes(b)
				if m < 0 {
					return errs.Newf(errs.InvalidMessage, "protobuf field %d truncated", num)
				}
				f.bytes, f.set = v, true
				b = b[m:]
			}
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return errs.Newf(errs.InvalidMessage, "protobuf field %d malformed", num)
		}
		b = b[m:]
	}
	return nil
}

// uint32Field returns a varint field that must fit 32 bits.
func uint32Field(f field, name string) (uint32, error) {
	if f.varint > math.MaxUint32 {
		return 0, errs.Newf(errs.InvalidMessage, "%s does not fit 32 bits", name)
	}
	return uint32(f.varint), nil
}

func appendBytesField(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}
