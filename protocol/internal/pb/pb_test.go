package pb

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

func TestAppendMessageLengths(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 129, 300, 16383, 16384, 16385, 70000, 2097152} {
		body := bytes.Repeat([]byte{0xAB}, n)
		b := AppendMessage([]byte{0x99}, 7, func(b []byte) []byte { return append(b, body...) })
		want := protowire.AppendBytes(protowire.AppendTag([]byte{0x99}, 7, protowire.BytesType), body)
		if !bytes.Equal(b, want) {
			t.Fatalf("n=%d: encoding differs from protowire's", n)
		}
	}
}

func TestReader(t *testing.T) {
	b := AppendUint64(nil, 1, 300)
	b = AppendBytes(b, 2, []byte("abc"))
	b = AppendBool(b, 3, true)
	b = AppendUint64(b, 9, 1)
	r := NewReader(b)
	var got []any
	for {
		num, ok := r.Next()
		if !ok {
			break
		}
		switch num {
		case 1:
			got = append(got, r.Uint32())
		case 2:
			var d [3]byte
			r.Fixed(d[:])
			got = append(got, string(d[:]))
		case 3:
			got = append(got, r.Bool())
		default:
			r.Skip(num)
		}
	}
	if r.Err() != nil || len(got) != 3 || got[0] != uint32(300) || got[1] != "abc" || got[2] != true {
		t.Fatalf("got %v, %v", got, r.Err())
	}
	if !r.Seen(1, 2, 3, 9) || !r.Seen() || r.Seen(1, 4) || r.Seen(64) {
		t.Fatal("Seen does not report the fields that appeared")
	}
	bad := map[string][]byte{
		"wrong type":     AppendUint64(nil, 2, 1),
		"truncated":      b[:len(b)-1],
		"bad tag":        {0x80},
		"wrong length":   AppendBytes(nil, 2, []byte("ab")),
		"bool 2":         AppendUint64(nil, 3, 2),
		"uint32 too big": AppendUint64(nil, 1, 1<<33),
	}
	for name, in := range bad {
		r := NewReader(in)
		for {
			num, ok := r.Next()
			if !ok {
				break
			}
			switch num {
			case 1:
				r.Uint32()
			case 2:
				var d [3]byte
				r.Fixed(d[:])
			case 3:
				r.Bool()
			default:
				r.Skip(num)
			}
		}
		if r.Err() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// FuzzReaderMatchesProtowire walks any input with Reader and with protowire
// side by side: the fields, their values and where a walk fails must agree
// (Reader decodes short tags and varints itself, protowire is the reference).
func FuzzReaderMatchesProtowire(f *testing.F) {
	f.Add(AppendBytes(AppendUint64(nil, 1, 300), 2, bytes.Repeat([]byte{1}, 200)))
	f.Add([]byte{0x08, 0x80, 0x00, 0x12, 0x81, 0x00}) // non-minimal varints
	f.Add([]byte{0x00, 0x01})                         // field number 0
	f.Add(AppendUint64(nil, 20, 1<<40))               // a two-byte tag, a long varint
	f.Add([]byte{0x12, 0xff, 0x7f})                   // a length past the end
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(b)
		rest := b
		for {
			num, ok := r.Next()
			wnum, typ, n := protowire.ConsumeTag(rest)
			if !ok {
				if len(rest) > 0 && n >= 0 {
					t.Fatalf("Reader stopped at a valid tag (field %d)", wnum)
				}
				return
			}
			if n < 0 || num != wnum {
				t.Fatalf("Reader read field %d, protowire %d (n=%d)", num, wnum, n)
			}
			rest = rest[n:]
			switch typ {
			case protowire.VarintType:
				v := r.Uint64()
				wv, m := protowire.ConsumeVarint(rest)
				if (m < 0) != (r.Err() != nil) || m >= 0 && v != wv {
					t.Fatalf("varint: Reader %d (%v), protowire %d (%d)", v, r.Err(), wv, m)
				}
				if m < 0 {
					return
				}
				rest = rest[m:]
			case protowire.BytesType:
				v := r.Bytes()
				wv, m := protowire.ConsumeBytes(rest)
				if (m < 0) != (r.Err() != nil) || m >= 0 && !bytes.Equal(v, wv) {
					t.Fatalf("bytes: Reader %x (%v), protowire %x (%d)", v, r.Err(), wv, m)
				}
				if m < 0 {
					return
				}
				rest = rest[m:]
			default:
				r.Skip(num)
				m := protowire.ConsumeFieldValue(wnum, typ, rest)
				if (m < 0) != (r.Err() != nil) {
					t.Fatalf("skip: Reader %v, protowire %d", r.Err(), m)
				}
				if m < 0 {
					return
				}
				rest = rest[m:]
			}
		}
	})
}

// TestAppendMatchesProtowire: the short forms AppendUint64 and AppendBytes
// write themselves are protowire's, at and around every boundary.
func TestAppendMatchesProtowire(t *testing.T) {
	for _, num := range []protowire.Number{1, 15, 16, 2047, 2048} {
		for _, v := range []uint64{0, 1, 0x7f, 0x80, 0x3fff, 0x4000, 1 << 40} {
			want := protowire.AppendVarint(protowire.AppendTag([]byte{9}, num, protowire.VarintType), v)
			if got := AppendUint64([]byte{9}, num, v); !bytes.Equal(got, want) {
				t.Errorf("AppendUint64(%d, %d) = %x, want %x", num, v, got, want)
			}
		}
		for _, n := range []int{0, 1, 0x7f, 0x80, 300} {
			v := bytes.Repeat([]byte{0xcd}, n)
			want := protowire.AppendBytes(protowire.AppendTag([]byte{9}, num, protowire.BytesType), v)
			if got := AppendBytes([]byte{9}, num, v); !bytes.Equal(got, want) {
				t.Errorf("AppendBytes(%d, %d bytes) differs from protowire", num, n)
			}
		}
	}
}
