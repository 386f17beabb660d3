package media

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDurations reads every file in testdata/durations.txt (made by
// testdata/gen.sh with ffmpeg) and expects the duration ffprobe gave for
// it, within 60 ms: ffprobe counts some encoders' padding that the
// container headers leave out, or the other way round.
func TestDurations(t *testing.T) {
	f, err := os.Open("testdata/durations.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := strings.Fields(sc.Text())
		if len(line) != 3 || strings.HasPrefix(line[0], "#") {
			continue
		}
		n++
		name, typ, secs := line[0], line[1], line[2]
		t.Run(name, func(t *testing.T) {
			want, err := strconv.ParseFloat(secs, 64)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Duration(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			if diff := got - time.Duration(want*float64(time.Second)); diff < -60*time.Millisecond || diff > 60*time.Millisecond {
				t.Errorf("duration %v, ffprobe says %.3fs", got, want)
			}
			if got := Type(b[:min(len(b), 512)]); got != typ {
				t.Errorf("type %q, want %q", got, typ)
			}
		})
	}
	if n < 10 {
		t.Fatalf("only %d vectors", n)
	}
}

// TestRefused: files that claim a container and lie are ErrMalformed, and
// every truncation of every vector is refused or read, never a panic.
func TestRefused(t *testing.T) {
	wav, _ := os.ReadFile("testdata/tone.wav")
	mp4, _ := os.ReadFile("testdata/clip.mp4")
	opus, _ := os.ReadFile("testdata/tone.opus")
	edit := func(b []byte, f func([]byte)) []byte { c := bytes.Clone(b); f(c); return c }
	mvhd := bytes.Index(mp4, []byte("mvhd"))
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrUnknown},
		{"text", []byte("hello, this is no recording at all"), ErrUnknown},
		{"box larger than the file", edit(mp4, func(b []byte) { b[0] = 0x7f }), ErrMalformed},
		{"timescale zero", edit(mp4, func(b []byte) { copy(b[mvhd+16:], []byte{0, 0, 0, 0}) }), ErrMalformed},
		{"mvhd version 7", edit(mp4, func(b []byte) { b[mvhd+4] = 7 }), ErrMalformed},
		{"wav byte rate zero", edit(wav, func(b []byte) { copy(b[28:], []byte{0, 0, 0, 0}) }), ErrMalformed},
		{"ogg of another codec", edit(opus, func(b []byte) { b[28] = 'X' }), ErrUnknown},
		{"ogg without a page CRC that checks", edit(opus[:200], func(b []byte) { b[199] ^= 1 }), ErrMalformed},
		{"ID3 tag longer than the file", []byte("ID3\x04\x00\x00\x7f\x7f\x7f\x7f"), ErrMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			if d, err := Duration(bytes.NewReader(c.b), int64(len(c.b))); !errors.Is(err, c.want) {
				t.Fatalf("got %v, %v; want %v", d, err, c.want)
			}
		})
	}
	files, _ := filepath.Glob("testdata/*.*")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		for n := 0; n < len(b); n += 1 + n/8 {
			Duration(bytes.NewReader(b[:n]), int64(n))
		}
	}
}
