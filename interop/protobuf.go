package interop

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// A minimal proto2 reader for the few libsignal messages the tests inspect.
// It reads only varint (0) and length-delimited (2) fields; libsignal's
// session messages use nothing else. Sky's real decoders live in protocol/;
// this one exists so the suite can check bytes without trusting them.

var errTruncated = errors.New("truncated")

// field is one protobuf field: Num and either Varint or Bytes.
type field struct {
	Num    int
	Wire   int
	Varint uint64
	Bytes  []byte
}

// readVarint decodes a base-128 varint of at most 10 bytes.
func readVarint(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		if i == 9 && b[i] > 1 {
			return 0, 0, errors.New("varint overflows 64 bits")
		}
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1, nil
		}
	}
	if len(b) >= 10 {
		return 0, 0, errors.New("varint longer than 10 bytes")
	}
	return 0, 0, errTruncated
}

// fields splits a protobuf message into its fields, in wire order.
func fields(b []byte) ([]field, error) {
	var out []field
	for len(b) > 0 {
		key, n, err := readVarint(b)
		if err != nil {
			return nil, fmt.Errorf("field key: %w", err)
		}
		b = b[n:]
		f := field{Num: int(key >> 3), Wire: int(key & 7)}
		if key>>3 == 0 || key>>3 > 1<<29-1 {
			return nil, fmt.Errorf("field number %d out of range", key>>3)
		}
		switch f.Wire {
		case 0:
			f.Varint, n, err = readVarint(b)
			if err != nil {
				return nil, fmt.Errorf("field %d: %w", f.Num, err)
			}
			b = b[n:]
		case 2:
			l, n, err := readVarint(b)
			if err != nil {
				return nil, fmt.Errorf("field %d length: %w", f.Num, err)
			}
			b = b[n:]
			if l > uint64(len(b)) {
				return nil, fmt.Errorf("field %d: length %d exceeds the %d bytes left", f.Num, l, len(b))
			}
			f.Bytes, b = b[:l], b[l:]
		default:
			return nil, fmt.Errorf("field %d: unexpected wire type %d", f.Num, f.Wire)
		}
		out = append(out, f)
	}
	return out, nil
}

// eachField splits the message b into fields and hands each to set, in wire
// order, until set fails. Errors are prefixed with what (the message's name).
// It returns the field numbers in wire order, up to the one that failed.
func eachField(what string, b []byte, set func(f field) error) ([]int, error) {
	fs, err := fields(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var order []int
	for _, f := range fs {
		order = append(order, f.Num)
		if err := set(f); err != nil {
			return order, fmt.Errorf("%s: %w", what, err)
		}
	}
	return order, nil
}

// requireFields names the first of the required fields (number to name) not
// in order, the field numbers eachField returned.
func requireFields(what string, order []int, required map[int]string) error {
	for _, num := range slices.Sorted(maps.Keys(required)) {
		if !slices.Contains(order, num) {
			return fmt.Errorf("%s: required field %s (%d) is missing", what, required[num], num)
		}
	}
	return nil
}

// uint32Field checks that f is a varint that fits 32 bits.
func uint32Field(f field, name string) (uint32, error) {
	if f.Wire != 0 {
		return 0, fmt.Errorf("%s (field %d) has wire type %d, want varint", name, f.Num, f.Wire)
	}
	if f.Varint > 0xffffffff {
		return 0, fmt.Errorf("%s (field %d) = %d does not fit 32 bits", name, f.Num, f.Varint)
	}
	return uint32(f.Varint), nil
}

// bytesField checks that f is length-delimited and, if size > 0, that it has
// exactly size bytes.
func bytesField(f field, name string, size int) ([]byte, error) {
	if f.Wire != 2 {
		return nil, fmt.Errorf("%s (field %d) has wire type %d, want bytes", name, f.Num, f.Wire)
	}
	if size > 0 && len(f.Bytes) != size {
		return nil, fmt.Errorf("%s (field %d) is %d bytes, want %d", name, f.Num, len(f.Bytes), size)
	}
	return f.Bytes, nil
}

// varintLen is the encoded size of v as a varint.
func varintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
