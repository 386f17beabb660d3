package keytrans

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed says that an encoding is not one this package writes.
var ErrMalformed = errors.New("keytrans: malformed encoding")

// reader reads fixed-size and length-prefixed fields, remembering the first
// error so that callers check once at the end.
type reader struct {
	b    []byte
	err  error
	what string
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s: %s", ErrMalformed, r.what, fmt.Sprintf(format, args...))
	}
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.fail("truncated")
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) fixed(dst []byte) {
	if b := r.bytes(len(dst)); b != nil {
		copy(dst, b)
	}
}

func (r *reader) u8() uint8 {
	if b := r.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.bytes(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.bytes(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.bytes(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// vbytes reads a 2-byte length, at most max, then that many bytes.
func (r *reader) vbytes(max int) []byte {
	n := int(r.u16())
	if n > max {
		r.fail("field of %d bytes, at most %d allowed", n, max)
		return nil
	}
	return r.bytes(n)
}

// done returns the first error, or one if bytes are left over.
func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d bytes left over", len(r.b))
	}
	return r.err
}

func appendVBytes(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}
