package envelope

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestSealOpenRoundTrip(t *testing.T) {
	k := NewKey()
	s := NewSealer(&k)
	for _, pt := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte("long "), 5000)} {
		ad := AD("messages", "v", RowID(42))
		sealed := s.Seal(ad, pt)
		if len(sealed) != len(pt)+Overhead {
			t.Fatalf("sealed length %d, want %d", len(sealed), len(pt)+Overhead)
		}
		got, err := s.Open(ad, sealed)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("round trip of %d bytes: %v", len(pt), err)
		}
	}
}

func TestSealUsesFreshNonces(t *testing.T) {
	k := NewKey()
	s := NewSealer(&k)
	a, b := s.Seal(nil, []byte("same")), s.Seal(nil, []byte("same"))
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same value are identical")
	}
}

// TestOpenRejects covers truncated values, unknown versions, altered bytes,
// wrong keys and values moved to another table, column or row.
func TestOpenRejects(t *testing.T) {
	k, other := NewKey(), NewKey()
	s := NewSealer(&k)
	ad := AD("contacts", "v", []byte("row-1"))
	sealed := s.Seal(ad, []byte("contact record"))
	flip := func(i int) []byte { c := bytes.Clone(sealed); c[i] ^= 1; return c }
	for _, tc := range []struct {
		name   string
		sealer *Sealer
		ad     []byte
		in     []byte
		want   error
	}{
		{"empty", s, ad, nil, ErrTruncated},
		{"one short of minimum", s, ad, sealed[:Overhead-1], ErrTruncated},
		{"truncated", s, ad, sealed[:len(sealed)-1], ErrAuth},
		{"version", s, ad, append([]byte{2}, sealed[1:]...), ErrVersion},
		{"nonce bit", s, ad, flip(3), ErrAuth},
		{"ciphertext bit", s, ad, flip(Overhead - tagSize + 1), ErrAuth},
		{"tag bit", s, ad, flip(len(sealed) - 1), ErrAuth},
		{"other table", s, AD("requests", "v", []byte("row-1")), sealed, ErrAuth},
		{"other column", s, AD("contacts", "w", []byte("row-1")), sealed, ErrAuth},
		{"other row", s, AD("contacts", "v", []byte("row-2")), sealed, ErrAuth},
		{"wrong key", NewSealer(&other), ad, sealed, ErrAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pt, err := tc.sealer.Open(tc.ad, tc.in)
			if !errors.Is(err, tc.want) || pt != nil {
				t.Fatalf("got (%q, %v), want (nil, %v)", pt, err, tc.want)
			}
		})
	}
}

func TestADIsInjective(t *testing.T) {
	seen := map[string]string{}
	for _, c := range [][3]string{
		{"ab", "c", ""}, {"a", "bc", ""}, {"a", "b", "c"}, {"", "abc", ""}, {"abc", "", ""}, {"a", "", "bc"},
	} {
		ad := string(AD(c[0], c[1], []byte(c[2])))
		if prev, dup := seen[ad]; dup {
			t.Fatalf("AD(%q) equals AD(%s)", c, prev)
		}
		seen[ad] = fmt.Sprintf("%q", c)
	}
}

func TestIndex(t *testing.T) {
	k, other := NewKey(), NewKey()
	x, y := NewIndex(&k), NewIndex(&other)
	id := []byte("sky-ID-alice")
	a := x.Sum("contacts", id)
	if !bytes.Equal(a, x.Sum("contacts", id)) {
		t.Fatal("index is not deterministic")
	}
	if len(a) != IndexSize {
		t.Fatalf("index length %d", len(a))
	}
	for name, b := range map[string][]byte{
		"other domain":   x.Sum("sessions", id),
		"other key":      y.Sum("contacts", id),
		"other id":       x.Sum("contacts", []byte("sky-ID-bob")),
		"split boundary": x.Sum("contacts", id[:3], id[3:]),
	} {
		if bytes.Equal(a, b) {
			t.Errorf("%s gives the same hash", name)
		}
	}
	if bytes.Contains(a, id) {
		t.Fatal("hash contains the identifier")
	}
}

func TestDerive(t *testing.T) {
	dk := NewKey()
	d := Derive(&dk)
	if d.Seal == dk || d.Index == dk || d.Seal == d.Index || d.Seal.IsZero() {
		t.Fatal("derived keys must differ from the data key and from each other")
	}
	if Derive(&dk) != d {
		t.Fatal("derivation is not deterministic")
	}
	d.Zero()
	if !d.Seal.IsZero() || !d.Index.IsZero() {
		t.Fatal("Zero left key bytes")
	}
}

func TestKeyFrom(t *testing.T) {
	if _, ok := KeyFrom(make([]byte, 31)); ok {
		t.Fatal("accepted 31 bytes")
	}
	b := bytes.Repeat([]byte{9}, KeySize)
	k, ok := KeyFrom(b)
	if !ok || !bytes.Equal(k[:], b) {
		t.Fatal("KeyFrom did not copy")
	}
}

// TestFormattingRedacts is acceptance test 23 for this package's types.
func TestFormattingRedacts(t *testing.T) {
	k := NewKey()
	d := Derive(&k)
	// A holder with unexported fields: fmt cannot call their methods and, on a
	// verb it cannot apply, prints their contents raw. Keys behind the
	// holders' pointers must still not show.
	type holder struct {
		s *Sealer
		x *Index
	}
	values := []any{k, &k, d, &d, NewSealer(&k), NewIndex(&k), holder{NewSealer(&k), NewIndex(&k)}, &holder{NewSealer(&k), NewIndex(&k)}}
	for _, v := range values {
		out := fmt.Sprintf("%v %+v %#v %s %x %X %q %d", v, v, v, v, v, v, v, v)
		for _, key := range []Key{k, d.Seal, d.Index} {
			for _, enc := range []string{fmt.Sprintf("%x", key[:]), fmt.Sprintf("%X", key[:]), fmt.Sprint(key[:8]), fmt.Sprintf("%d", key[:4]), string(key[:])} {
				if strings.Contains(out, enc) {
					t.Fatalf("%T formatting shows key bytes (%.60q)", v, out)
				}
			}
		}
		_, isHolder := v.(holder)
		_, isHolderPtr := v.(*holder)
		if !isHolder && !isHolderPtr && !strings.Contains(out, "redacted") {
			t.Fatalf("%T formatting does not say it is redacted: %.60q", v, out)
		}
	}
}

func FuzzOpen(f *testing.F) {
	k := NewKey()
	s := NewSealer(&k)
	ad := AD("t", "c", RowID(1))
	f.Add(s.Seal(ad, []byte("hello")))
	f.Add(s.Seal(ad, nil))
	f.Add([]byte{Version})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		pt, err := s.Open(ad, b)
		if err != nil {
			if pt != nil {
				t.Fatal("error with a plaintext")
			}
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrVersion) && !errors.Is(err, ErrAuth) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(pt) != len(b)-Overhead {
			t.Fatalf("plaintext length %d from %d sealed bytes", len(pt), len(b))
		}
	})
}
