package store

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/skymsg/sky/client/store/envelope"
)

// Records are encoded as a version byte followed by fields in a fixed order:
// byte strings as uvarint length and bytes, integers as varints. Decoders
// check every length against what remains and reject trailing bytes. The
// encodings live only inside sealed values.

const recordVersion = 1

// maxField bounds any one field: larger claims are rejected before any
// allocation.
const maxField = 64 << 20

var errRecord = errors.New("malformed record")

type writer struct{ b []byte }

func newWriter() *writer { return &writer{b: []byte{recordVersion}} }

func (w *writer) bytes(p []byte) {
	w.b = binary.AppendUvarint(w.b, uint64(len(p)))
	w.b = append(w.b, p...)
}
func (w *writer) str(s string)  { w.bytes([]byte(s)) }
func (w *writer) uint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *writer) int(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *writer) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}
func (w *writer) time(t time.Time) {
	if t.IsZero() {
		w.int(0)
		return
	}
	w.int(t.UnixNano())
}

type reader struct {
	b   []byte
	err error
}

func newReader(b []byte) *reader {
	r := &reader{b: b}
	if len(b) == 0 || b[0] != recordVersion {
		r.err = errRecord
		return r
	}
	r.b = b[1:]
	return r
}

func (r *reader) bytes() []byte {
	n := r.uint()
	if r.err != nil {
		return nil
	}
	if n > maxField || n > uint64(len(r.b)) {
		r.err = errRecord
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

// copyBytes returns a copy that does not alias the decoded buffer, nil for
// an empty field.
func (r *reader) copyBytes() []byte {
	p := r.bytes()
	if len(p) == 0 {
		return nil
	}
	return append([]byte{}, p...)
}

func (r *reader) str() string { return string(r.bytes()) }

// key reads a data key, which must be envelope.KeySize bytes long.
func (r *reader) key() envelope.Key {
	k, ok := envelope.KeyFrom(r.bytes())
	if !ok {
		r.err = errRecord
	}
	return k
}

func (r *reader) uint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || (n > 1 && r.b[n-1] == 0) { // malformed, or not the shortest form
		r.err = errRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) int() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 || (n > 1 && r.b[n-1] == 0) {
		r.err = errRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) uint32() uint32 {
	v := r.uint()
	if v > 1<<32-1 {
		r.err = errRecord
	}
	return uint32(v)
}

func (r *reader) bool() bool {
	v := r.uint()
	if v > 1 {
		r.err = errRecord
	}
	return v == 1
}

func (r *reader) time() time.Time {
	v := r.int()
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v).UTC()
}

func (r *reader) duration() time.Duration {
	v := r.int()
	if v < 0 {
		r.err = errRecord
	}
	return time.Duration(v)
}

// done reports the first error, or trailing bytes.
func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = errRecord
	}
	return r.err
}
