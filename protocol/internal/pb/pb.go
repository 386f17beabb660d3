// Package pb reads and writes the protobuf encodings of Sky's own stored
// records (session states, SPQR states, prekey records) with
// google.golang.org/protobuf/encoding/protowire, by hand and in a fixed field
// order: no reflection, no generated code, every length checked.
package pb

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Reader walks the fields of one encoded message. The first malformed field,
// or the first accessor used with the wrong wire type, sets Err and ends the walk.
type Reader struct {
	b    []byte
	typ  protowire.Type
	err  error
	seen uint64 // bit n set: field n (below 64) has appeared
}

// NewReader returns a Reader over b. Byte values it returns alias b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// errMalformed is the error of every Reader failure; callers wrap it.
type errMalformed struct{ what string }

func (e *errMalformed) Error() string { return "malformed record: " + e.what }

func (r *Reader) fail(what string) {
	if r.err == nil {
		r.err = &errMalformed{what}
	}
	r.b = nil
}

// Next advances to the next field and returns its number, or false at the
// end or after an error.
func (r *Reader) Next() (protowire.Number, bool) {
	// Fields below 16 have one-byte tags: decoded here, inline in the
	// caller (this is the hot loop of every session load).
	// (A failed Reader has no bytes left, so it takes the slow path.)
	if b := r.b; len(b) > 0 && b[0]-1<<3 < 0x80-1<<3 {
		t := b[0]
		r.b = b[1:]
		r.typ = protowire.Type(t & 7)
		r.seen |= 1 << (t >> 3)
		return protowire.Number(t >> 3), true
	}
	return r.nextSlow()
}

func (r *Reader) nextSlow() (protowire.Number, bool) {
	if r.err != nil || len(r.b) == 0 {
		return 0, false
	}
	num, typ, n := protowire.ConsumeTag(r.b)
	if n < 0 {
		r.fail("bad tag")
		return 0, false
	}
	r.b = r.b[n:]
	return r.field(num, typ), true
}

// field records that field num of wire type typ is the current one.
func (r *Reader) field(num protowire.Number, typ protowire.Type) protowire.Number {
	r.typ = typ
	if num < 64 {
		r.seen |= 1 << num
	}
	return num
}

// varint consumes a varint, decoding the one- and two-byte forms inline
// (every length and counter of a session record fits two bytes).
func (r *Reader) varint() (uint64, bool) {
	b := r.b
	if len(b) > 0 && b[0] < 0x80 {
		r.b = b[1:]
		return uint64(b[0]), true
	}
	if len(b) > 1 && b[1] < 0x80 {
		r.b = b[2:]
		return uint64(b[0]&0x7f) | uint64(b[1])<<7, true
	}
	v, n := protowire.ConsumeVarint(b)
	if n < 0 {
		return 0, false
	}
	r.b = b[n:]
	return v, true
}

// Seen reports whether every field numbered nums (each below 64) has
// appeared so far; decoders call it after the walk for required fields.
func (r *Reader) Seen(nums ...protowire.Number) bool {
	for _, n := range nums {
		if n >= 64 || r.seen&(1<<n) == 0 {
			return false
		}
	}
	return true
}

// Uint64 returns the current field, which must be a varint.
func (r *Reader) Uint64() uint64 {
	if r.typ != protowire.VarintType {
		r.fail("field is not a varint")
		return 0
	}
	v, ok := r.varint()
	if !ok {
		r.fail("truncated varint")
		return 0
	}
	return v
}

// Uint32 returns the current field, a varint that must fit 32 bits.
func (r *Reader) Uint32() uint32 {
	v := r.Uint64()
	if v > math.MaxUint32 {
		r.fail("varint exceeds 32 bits")
		return 0
	}
	return uint32(v)
}

// Bool returns the current field, a varint 0 or 1.
func (r *Reader) Bool() bool {
	v := r.Uint64()
	if v > 1 {
		r.fail("bool is not 0 or 1")
	}
	return v == 1
}

// Bytes returns the current field, which must be length-delimited.
func (r *Reader) Bytes() []byte {
	// A length below 128 takes one byte: decoded inline in the caller.
	if b := r.b; r.typ == protowire.BytesType && len(b) > 0 {
		if n := int(b[0]); n < 0x80 && n < len(b) {
			r.b = b[n+1:]
			return b[1 : n+1]
		}
	}
	return r.bytesSlow()
}

func (r *Reader) bytesSlow() []byte {
	if r.typ != protowire.BytesType {
		r.fail("field is not length-delimited")
		return nil
	}
	m, ok := r.varint()
	if !ok || m > uint64(len(r.b)) {
		r.fail("truncated bytes")
		return nil
	}
	v := r.b[:m]
	r.b = r.b[m:]
	return v
}

// Fixed copies the current field, which must be exactly len(dst) bytes.
func (r *Reader) Fixed(dst []byte) {
	v := r.Bytes()
	if r.err == nil && len(v) != len(dst) {
		r.fail("field has the wrong length")
		return
	}
	copy(dst, v)
}

// Skip skips the current field (an unknown one).
func (r *Reader) Skip(num protowire.Number) {
	n := protowire.ConsumeFieldValue(num, r.typ, r.b)
	if n < 0 {
		r.fail("bad field")
		return
	}
	r.b = r.b[n:]
}

// Err returns the first error met, or nil.
func (r *Reader) Err() error { return r.err }

// AppendUint64 appends field num as a varint.
func AppendUint64(b []byte, num protowire.Number, v uint64) []byte {
	if num < 16 && v < 0x80 { // a one-byte tag and value, as most are
		return append(b, byte(num)<<3|byte(protowire.VarintType), byte(v))
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// AppendBool appends field num as a varint 0 or 1.
func AppendBool(b []byte, num protowire.Number, v bool) []byte {
	x := uint64(0)
	if v {
		x = 1
	}
	return AppendUint64(b, num, x)
}

// AppendBytes appends field num as length-delimited bytes.
func AppendBytes(b []byte, num protowire.Number, v []byte) []byte {
	if num < 16 && len(v) < 0x80 { // a one-byte tag and length
		b = append(b, byte(num)<<3|byte(protowire.BytesType), byte(len(v)))
		return append(b, v...)
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// AppendMessage appends field num holding the message that build appends.
// The length is minimal, as protobuf writes it.
func AppendMessage(b []byte, num protowire.Number, build func([]byte) []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	// Two bytes are reserved for the length, which is enough for bodies
	// below 16 KiB; the body moves only when the length takes one byte
	// (then it is short) or more than two.
	const reserved = 2
	start := len(b)
	b = append(b, 0, 0)
	b = build(b)
	n := len(b) - start - reserved
	size := protowire.SizeVarint(uint64(n))
	switch {
	case size < reserved:
		copy(b[start+size:], b[start+reserved:])
		b = b[:len(b)-(reserved-size)]
	case size > reserved:
		b = append(b, make([]byte, size-reserved)...)
		copy(b[start+size:], b[start+reserved:start+reserved+n])
	}
	protowire.AppendVarint(b[start:start], uint64(n))
	return b
}
