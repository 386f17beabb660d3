package strip

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestStripHEIC: the EXIF (GPS, camera serial) and XMP of real HEIC files
// are gone, every box is where it was, only the metadata items' bytes
// changed, and (where libheif's heif-convert is installed) the result
// still decodes. gps-libheif.heic is testdata/gps.jpg through libheif's
// heif-enc (EXIF and XMP copied, in mdat); gps.heic is that file with XMP and a
// GPS position added by exiftool, which moves the grid item into idat.
func TestStripHEIC(t *testing.T) {
	for _, tc := range []struct {
		file    string
		removed []string
	}{
		{"gps-libheif.heic", []string{"EXIF", "XMP"}},
		{"gps.heic", []string{"EXIF", "XMP"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			in, err := os.ReadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if typ := Type(in); typ != "image/heic" || !Strippable(typ) {
				t.Fatalf("type %q", typ)
			}
			found := 0
			for _, c := range canaries {
				found += bytes.Count(in, []byte(c))
			}
			if found < 2 {
				t.Fatal("the test image carries no canaries")
			}
			var out bytes.Buffer
			res, err := Strip(&out, bytes.NewReader(in), "image/heic")
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range canaries {
				if bytes.Contains(out.Bytes(), []byte(c)) {
					t.Errorf("%s survives stripping", c)
				}
			}
			if !slices.Equal(res.Removed, tc.removed) {
				t.Errorf("Removed = %q, want %q", res.Removed, tc.removed)
			}
			a, _, err := topBoxes(bytes.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			b, _, err := topBoxes(bytes.NewReader(out.Bytes()))
			if err != nil || !slices.Equal(a, b) || out.Len() != len(in) {
				t.Fatalf("boxes moved: %v, %v", b, err)
			}
			// Only bytes of the metadata items changed: the image's are
			// the same, and the meta box's structure (all but idat's
			// payload) too.
			m, _ := find(a, "meta")
			spans, err := metaSpans(in[m.start:m.end], m.body-m.start, &Result{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range in {
				if in[i] == out.Bytes()[i] {
					continue
				}
				if !slices.ContainsFunc(spans, func(s span) bool {
					off := s.off
					if s.inMeta {
						off += m.start
					}
					return int64(i) >= off && int64(i) < off+s.n
				}) {
					t.Fatalf("byte %d changed outside the metadata items", i)
				}
			}
			if !bytes.Contains(out.Bytes(), emptyExif) {
				t.Error("no empty EXIF written in place of the old")
			}
			var again bytes.Buffer
			if _, err := Strip(&again, bytes.NewReader(out.Bytes()), "image/heic"); err != nil || !bytes.Equal(again.Bytes(), out.Bytes()) {
				t.Fatalf("stripping the stripped image changes it: %v", err)
			}
			decodes(t, out.Bytes())
		})
	}
}

// decodes checks with libheif that b is a HEIC image it decodes, if
// heif-convert is installed (apt-get install libheif-examples).
func decodes(t *testing.T, b []byte) {
	conv, err := exec.LookPath("heif-convert")
	if err != nil {
		t.Log("heif-convert not installed: decoding not checked")
		return
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.heic")
	os.WriteFile(in, b, 0o600)
	if out, err := exec.Command(conv, in, filepath.Join(dir, "out.png")).CombinedOutput(); err != nil {
		t.Fatalf("libheif does not decode the stripped file: %v\n%s", err, out)
	}
}

// heicWith builds a minimal HEIC file whose Exif item (item 1) iloc places
// at off, n bytes long; mdat holds an EXIF with a GPS canary, at mdatAt.
func heicWith(t *testing.T, off, n func(mdatAt int) uint32) []byte {
	t.Helper()
	be32 := func(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }
	boxOf := func(typ string, body ...[]byte) []byte {
		b := bytes.Join(body, nil)
		return append(append(be32(uint32(8+len(b))), typ...), b...)
	}
	ftyp := boxOf("ftyp", []byte("heic"), be32(0), []byte("mif1heic"))
	infe := boxOf("infe", []byte{2, 0, 0, 0, 0, 1, 0, 0}, []byte("Exif\x00"))
	iinf := boxOf("iinf", []byte{0, 0, 0, 0, 0, 1}, infe)
	exif := []byte("\x00\x00\x00\x00MM\x00\x2a\x00\x00\x00\x08" + canaryGPS)
	metaLen := 8 + 4 + len(iinf) + 8 + 4 + 2 + 2 + 2 + 2 + 2 + 4 + 4
	mdatAt := len(ftyp) + metaLen + 8
	iloc := boxOf("iloc", []byte{0, 0, 0, 0, 0x44, 0x00, 0, 1, 0, 1, 0, 0, 0, 1}, be32(off(mdatAt)), be32(n(mdatAt)))
	meta := boxOf("meta", []byte{0, 0, 0, 0}, iinf, iloc)
	if len(meta) != metaLen {
		t.Fatalf("meta is %d bytes, not %d", len(meta), metaLen)
	}
	return bytes.Join([][]byte{ftyp, meta, boxOf("mdat", exif)}, nil)
}

// TestHEICRefused: an EXIF item whose location is anywhere but inside the
// media data (over the file's own boxes, past its end, or of no length)
// makes the file refused, never half stripped; in place, it is stripped.
func TestHEICRefused(t *testing.T) {
	exifLen := uint32(12 + len(canaryGPS))
	at := func(v int) func(int) uint32 { return func(int) uint32 { return uint32(v) } }
	inMdat := func(m int) uint32 { return uint32(m) }
	for _, c := range []struct {
		name   string
		off, n func(int) uint32
		ok     bool
	}{
		{"in mdat", inMdat, at(int(exifLen)), true},
		{"over ftyp", at(0), at(int(exifLen)), false},
		{"past the end", inMdat, at(1 << 20), false},
		{"no length", inMdat, at(0), false},
		{"straddling mdat's header", func(m int) uint32 { return uint32(m - 4) }, at(int(exifLen)), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := heicWith(t, c.off, c.n)
			var out bytes.Buffer
			_, err := Strip(&out, bytes.NewReader(in), "image/heic")
			switch {
			case c.ok && (err != nil || bytes.Contains(out.Bytes(), []byte(canaryGPS)) || out.Len() != len(in)):
				t.Fatalf("%v; canary left %v", err, bytes.Contains(out.Bytes(), []byte(canaryGPS)))
			case !c.ok && !errors.Is(err, ErrMalformed):
				t.Fatalf("%v, want ErrMalformed", err)
			}
		})
	}
}
