package ws

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

func TestHeaderRoundTrip(t *testing.T) {
	mask := [4]byte{1, 2, 3, 4}
	for _, length := range []int{0, 1, 125, 126, 127, 0xffff, 0x10000, 300000} {
		for _, m := range []*[4]byte{nil, &mask} {
			for _, op := range []Opcode{OpBinary, OpText, OpContinuation} {
				for _, fin := range []bool{true, false} {
					b := AppendHeader(nil, fin, op, length, m)
					if m == nil && len(b) != HeaderLen(length) {
						t.Errorf("HeaderLen(%d) = %d, header is %d bytes", length, HeaderLen(length), len(b))
					}
					h, n, err := ParseHeader(b, 1<<30)
					if err != nil || n != len(b) {
						t.Fatalf("length %d: parsed %d of %d bytes: %v", length, n, len(b), err)
					}
					if h.Fin != fin || h.Op != op || h.Length != int64(length) || h.Masked != (m != nil) || (m != nil && h.Mask != mask) {
						t.Fatalf("round trip of %d/%v/%v/%v: %+v", length, fin, op, m != nil, h)
					}
					// Every proper prefix asks for more bytes.
					for i := range len(b) {
						if _, n, err := ParseHeader(b[:i], 1<<30); n != 0 || err != nil {
							t.Fatalf("prefix %d of a %d-byte header: n=%d err=%v", i, len(b), n, err)
						}
					}
				}
			}
		}
	}
}

func TestHeaderErrors(t *testing.T) {
	cases := []struct {
		name  string
		b     []byte
		limit int64
		want  error
	}{
		{"reserved bit", []byte{0x80 | 0x40 | 2, 0x80}, 100, ErrProtocol},
		{"unknown opcode", []byte{0x80 | 3, 0x80}, 100, ErrProtocol},
		{"unknown control opcode", []byte{0x80 | 0xb, 0x80}, 100, ErrProtocol},
		{"fragmented ping", []byte{0x09, 0x80}, 100, ErrProtocol},
		{"long close", []byte{0x88, 126, 0, 126}, 1000, ErrProtocol},
		{"top length bit", []byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0}, 1 << 62, ErrProtocol},
		{"over the limit (7-bit)", []byte{0x82, 101}, 100, ErrTooBig},
		{"over the limit (16-bit)", []byte{0x82, 126, 1, 0}, 255, ErrTooBig},
		{"over the limit (64-bit)", []byte{0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0}, 1 << 31, ErrTooBig},
	}
	for _, tc := range cases {
		if _, _, err := ParseHeader(tc.b, tc.limit); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// maskSlow is the RFC's definition of masking.
func maskSlow(key [4]byte, pos int, b []byte) {
	for i := range b {
		b[i] ^= key[(pos+i)%4]
	}
}

func TestMaskBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		var key [4]byte
		binary.LittleEndian.PutUint32(key[:], r.Uint32())
		b := make([]byte, r.IntN(300))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		pos := r.IntN(9)
		want := bytes.Clone(b)
		maskSlow(key, pos, want)
		// Masking in two pieces equals masking at once.
		split := 0
		if len(b) > 0 {
			split = r.IntN(len(b))
		}
		next := MaskBytes(key, pos, b[:split])
		if end := MaskBytes(key, next, b[split:]); end != pos+len(b) {
			t.Fatalf("MaskBytes returned %d, want %d", end, pos+len(b))
		}
		if !bytes.Equal(b, want) {
			t.Fatalf("MaskBytes(%x, %d) differs from the RFC's definition", key, pos)
		}
	}
}

func TestCloseFrames(t *testing.T) {
	long := string(bytes.Repeat([]byte("é"), 100)) // 200 bytes of two-byte runes
	for _, tc := range []struct {
		code   StatusCode
		reason string
	}{{StatusNormalClosure, ""}, {StatusPolicyViolation, "UNAUTHENTICATED"}, {4001, long}} {
		b := AppendClose(nil, tc.code, tc.reason, nil)
		h, n, err := ParseHeader(b, 1<<20)
		if err != nil || h.Op != OpClose || !h.Fin || int(h.Length) != len(b)-n || h.Length > 125 {
			t.Fatalf("close frame header %+v, %v", h, err)
		}
		code, reason, err := ParseClose(b[n:])
		if err != nil || code != tc.code || !bytes.HasPrefix([]byte(tc.reason), []byte(reason)) {
			t.Fatalf("ParseClose = %d %q %v", code, reason, err)
		}
	}
	for _, bad := range [][]byte{{3}, {0x03, 0xed}, {0x03, 0xe8, 0xff}, {0, 0}} {
		if _, _, err := ParseClose(bad); !errors.Is(err, ErrProtocol) {
			t.Errorf("ParseClose(%x) = %v, want a protocol error", bad, err)
		}
	}
	if code, _, err := ParseClose(nil); err != nil || code != StatusNoStatus {
		t.Errorf("empty close payload: %d %v", code, err)
	}
}

func TestReader(t *testing.T) {
	mask := [4]byte{9, 8, 7, 6}
	var stream []byte
	payloads := [][]byte{[]byte("hello"), bytes.Repeat([]byte{1}, 70000), {}, []byte("ping!")}
	ops := []Opcode{OpBinary, OpBinary, OpText, OpPing}
	for i, p := range payloads {
		stream = AppendFrame(stream, ops[i], p, &mask)
	}
	// Deliver the stream in small reads, with part of it given up front.
	r := NewReader(&trickle{b: stream[10:], step: 333}, stream[:10], 1<<20, true)
	for i, p := range payloads {
		h, got, err := r.Next()
		if err != nil || h.Op != ops[i] || !bytes.Equal(got, p) {
			t.Fatalf("frame %d: %+v %d bytes, %v", i, h, len(got), err)
		}
	}
	if _, _, err := r.Next(); err == nil {
		t.Fatal("read past the end of the stream")
	}
	// A server-side reader refuses unmasked frames.
	r = NewReader(bytes.NewReader(AppendFrame(nil, OpBinary, []byte("x"), nil)), nil, 100, true)
	if _, _, err := r.Next(); !errors.Is(err, ErrProtocol) {
		t.Fatalf("unmasked client frame: %v", err)
	}
}

type trickle struct {
	b    []byte
	step int
}

func (t *trickle) Read(p []byte) (int, error) {
	if len(t.b) == 0 {
		return 0, errEOF
	}
	n := copy(p[:min(len(p), t.step)], t.b)
	t.b = t.b[n:]
	return n, nil
}

var errEOF = errors.New("end of test stream")

// FuzzParseHeader: any bytes parse to a header that re-encodes to the same
// length fields, or to an error; never a panic.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0x82, 0x85, 1, 2, 3, 4, 5})
	f.Add([]byte{0x82, 126, 0, 200})
	f.Add([]byte{0x02, 127, 0, 0, 0, 0, 0, 1, 0, 0, 9, 9, 9, 9})
	f.Add([]byte{0x88, 0x02, 3, 232})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseHeader(b, 1<<20)
		if err != nil || n == 0 {
			return
		}
		if n > len(b) || n > MaxHeaderBytes || h.Length > 1<<20 || h.Length < 0 {
			t.Fatalf("header %+v of %d bytes from %d", h, n, len(b))
		}
		var m *[4]byte
		if h.Masked {
			m = &h.Mask
		}
		re := AppendHeader(nil, h.Fin, h.Op, int(h.Length), m)
		h2, n2, err := ParseHeader(re, 1<<20)
		if err != nil || n2 != len(re) || h2 != h {
			t.Fatalf("re-encoded header %+v differs from %+v", h2, h)
		}
	})
}

// FuzzReader: a server-side Reader over arbitrary bytes returns frames
// within its limit or an error, and never panics.
func FuzzReader(f *testing.F) {
	mask := [4]byte{1, 2, 3, 4}
	f.Add(AppendFrame(AppendFrame(nil, OpBinary, []byte("abc"), &mask), OpClose, []byte{3, 232}, &mask))
	f.Add([]byte{0x82, 0xfe, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(bytes.NewReader(b), nil, 4096, true)
		for range 100 {
			h, p, err := r.Next()
			if err != nil {
				return
			}
			if int64(len(p)) != h.Length || h.Length > 4096 || !h.Masked {
				t.Fatalf("frame %+v with %d payload bytes", h, len(p))
			}
		}
	})
}

// BenchmarkMaskBytes unmasks an upload chunk's worth of payload.
func BenchmarkMaskBytes(b *testing.B) {
	buf := make([]byte, 256<<10)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		MaskBytes([4]byte{1, 2, 3, 4}, 1, buf)
	}
}
