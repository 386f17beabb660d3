package safetext

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

type vector struct {
	Name  string `json:"name"`
	In    string `json:"in"`
	InHex string `json:"in_hex"`
	Line  string `json:"line"`
	Text  string `json:"text"`
}

func loadVectors(t testing.TB) []vector {
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		if v.InHex != "" {
			in, err := hex.DecodeString(v.InHex)
			if err != nil {
				t.Fatalf("%s: %v", v.Name, err)
			}
			vs[i].In = string(in)
		}
	}
	return vs
}

func TestVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			if got := Line(v.In); got != v.Line {
				t.Errorf("Line(%q) = %q, want %q", v.In, got, v.Line)
			}
			if got := Text(v.In); got != v.Text {
				t.Errorf("Text(%q) = %q, want %q", v.In, got, v.Text)
			}
			checkInert(t, Line(v.In), false)
			checkInert(t, Text(v.In), true)
		})
	}
}

func TestIndentMarker(t *testing.T) {
	for _, tc := range []struct{ marker, want string }{
		{"  > ", "a\n  > b"},
		{"", "a\n" + Continuation + "b"},
		{"\x1b[2K", "a\n" + Continuation + "b"}, // an unsafe marker is not used
		{"\n", "a\n" + Continuation + "b"},
	} {
		if got := Indent("a\nb", tc.marker); got != tc.want {
			t.Errorf("Indent(a\\nb, %q) = %q, want %q", tc.marker, got, tc.want)
		}
	}
}

func TestLines(t *testing.T) {
	got := Lines("a\r\nb\x1b\nc\r")
	want := []string{"a", `b\x1b`, `c\r`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Lines = %q, want %q", got, want)
	}
}

// checkInert fails if out holds a character a terminal may interpret: an
// ESC, a C0 or C1 control, a bidi control, a line separator or invalid
// UTF-8. With multiline, "\n" is allowed when Continuation follows it.
func checkInert(t testing.TB, out string, multiline bool) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("output %q is not UTF-8", out)
	}
	for i, r := range out {
		if r == '\n' && multiline {
			if !strings.HasPrefix(out[i+1:], Continuation) {
				t.Fatalf("output %q: line break at %d not followed by the continuation marker", out, i)
			}
			continue
		}
		if r < 0x20 || (r >= 0x7f && r < 0xa0) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029' {
			t.Fatalf("output %q holds %U at %d", out, r, i)
		}
	}
}

func FuzzSafeText(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.In)
	}
	f.Fuzz(func(t *testing.T, s string) {
		line := Line(s)
		checkInert(t, line, false)
		text := Text(s)
		checkInert(t, text, true)
		if got, want := strings.Count(text, "\n"), strings.Count(s, "\n"); got != want {
			t.Fatalf("Text(%q) has %d line breaks, input %d", s, got, want)
		}
		if isInert(s) && line != s {
			t.Fatalf("Line changed inert %q to %q", s, line)
		}
	})
}

func BenchmarkLinePlain(b *testing.B) {
	s := strings.Repeat("an ordinary message, ", 10)
	for b.Loop() {
		Line(s)
	}
}
