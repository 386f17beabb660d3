package strip

import (
	"bytes"
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
					if s.inIdat() {
						off = off - idatFlag + m.start
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
