package strip

import (
	"bytes"
	"errors"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"slices"
	"strings"
	"testing"

	_ "golang.org/x/image/webp"
)

func TestStrip(t *testing.T) {
	for _, tc := range []struct {
		file, typ string
		removed   []string
	}{
		{"gps.jpg", "image/jpeg", []string{"EXIF", "XMP", "IPTC", "comment", "data after the image"}},
		{"meta.png", "image/png", []string{"text", "text (XMP)", "EXIF", "time"}},
		{"meta.webp", "image/webp", []string{"EXIF", "XMP"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			in, err := os.ReadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if got := Type(in); got != tc.typ {
				t.Fatalf("Type = %q, want %q", got, tc.typ)
			}
			found := 0
			for _, c := range canaries {
				found += bytes.Count(in, []byte(c))
			}
			if found < 2 {
				t.Fatal("the test image carries no canaries")
			}
			var out bytes.Buffer
			res, err := Strip(&out, bytes.NewReader(in), tc.typ)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range canaries {
				if bytes.Contains(out.Bytes(), []byte(c)) {
					t.Errorf("%s survives stripping", c)
				}
			}
			for _, r := range tc.removed {
				if !slices.Contains(res.Removed, r) {
					t.Errorf("Removed = %q, missing %q", res.Removed, r)
				}
			}
			// The image itself is untouched: it decodes to the same pixels.
			a, _, err := image.Decode(bytes.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			b, _, err := image.Decode(bytes.NewReader(out.Bytes()))
			if err != nil {
				t.Fatalf("the stripped image does not decode: %v", err)
			}
			if a.Bounds() != b.Bounds() {
				t.Fatalf("bounds %v, want %v", b.Bounds(), a.Bounds())
			}
			for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
				for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
					if a.At(x, y) != b.At(x, y) {
						t.Fatalf("pixel %d,%d changed", x, y)
					}
				}
			}
			// Stripping twice changes nothing more.
			var again bytes.Buffer
			if _, err := Strip(&again, bytes.NewReader(out.Bytes()), tc.typ); err != nil || !bytes.Equal(again.Bytes(), out.Bytes()) {
				t.Fatalf("stripping the stripped image changes it: %v", err)
			}
		})
	}
}

// TestOrientationKept: the JPEG's EXIF goes, its orientation stays.
func TestOrientationKept(t *testing.T) {
	in, _ := os.ReadFile("testdata/gps.jpg")
	var out bytes.Buffer
	if _, err := Strip(&out, bytes.NewReader(in), "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(out.Bytes(), []byte("Exif\x00\x00"))
	if i < 0 {
		t.Fatal("no orientation segment")
	}
	if o := exifOrientation(out.Bytes()[i+6:]); o != 6 {
		t.Fatalf("orientation %d, want 6", o)
	}
	if n := int(out.Bytes()[i-2])<<8 | int(out.Bytes()[i-1]); n > 40 {
		t.Fatalf("the EXIF written back is %d bytes; it should hold the orientation only", n)
	}
}

func TestUnsupportedAndMalformed(t *testing.T) {
	var out bytes.Buffer
	for _, typ := range []string{"application/pdf", "image/gif", "video/mp4"} {
		if _, err := Strip(&out, bytes.NewReader([]byte("x")), typ); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", typ, err)
		}
		if Strippable(typ) {
			t.Errorf("%s claimed strippable", typ)
		}
	}
	if out.Len() != 0 {
		t.Fatal("wrote something for an unsupported type")
	}
	if got := Type([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00")); got != "image/heic" {
		t.Errorf("HEIC sniffed as %q", got)
	}
	for _, f := range []string{"gps.jpg", "meta.png", "meta.webp", "gps.heic"} {
		in, _ := os.ReadFile("testdata/" + f)
		typ := Type(in)
		end := len(in) - 1 // cuts the IEND, or the last chunk
		if typ == "image/jpeg" {
			end = bytes.LastIndex(in, []byte{0xff, 0xd9}) + 1 // cuts the end marker
		}
		for _, cut := range []int{3, len(in) / 2, end} {
			if _, err := Strip(&out, bytes.NewReader(in[:cut]), typ); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s cut at %d: %v, want ErrMalformed", f, cut, err)
			}
		}
		if _, err := Strip(&out, strings.NewReader("not an image at all"), typ); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: garbage gives %v", f, err)
		}
	}
}

func FuzzStrip(f *testing.F) {
	for _, n := range []string{"gps.jpg", "meta.png", "meta.webp", "gps.heic", "gps-libheif.heic"} {
		b, _ := os.ReadFile("testdata/" + n)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, typ := range []string{"image/jpeg", "image/png", "image/webp", "image/heic"} {
			var out bytes.Buffer
			if _, err := Strip(&out, bytes.NewReader(in), typ); err == nil && out.Len() > len(in)+64 {
				t.Fatalf("%s: %d bytes out of %d in", typ, out.Len(), len(in))
			}
		}
	})
}
