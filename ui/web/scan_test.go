package web

import (
	"bufio"
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"os"
	"testing"

	"rsc.io/qr"
)

// qrPicture draws text as a QR code of scale pixels per module, centred on
// a white w×h picture (as a camera sees a code on a screen).
func qrPicture(t testing.TB, text string, scale, w, h int) image.Image {
	t.Helper()
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		t.Fatal(err)
	}
	code.Scale = scale
	src := code.Image()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	off := image.Pt((w-src.Bounds().Dx())/2, (h-src.Bounds().Dy())/2)
	draw.Draw(dst, src.Bounds().Add(off), src, src.Bounds().Min, draw.Src)
	return dst
}

func encoded(t testing.TB, img image.Image, asJPEG bool) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	if asJPEG {
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 85})
	} else {
		err = png.Encode(&b, img)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// writeY4M writes img as a one-frame YUV4MPEG2 video, which Chromium's fake
// camera (--use-file-for-fake-video-capture) plays in a loop.
func writeY4M(t testing.TB, path string, img image.Image) {
	t.Helper()
	b := img.Bounds()
	w, h := b.Dx()&^1, b.Dy()&^1
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := bufio.NewWriter(f)
	out.WriteString("YUV4MPEG2 W" + itoa(w) + " H" + itoa(h) + " F30:1 Ip A1:1 C420jpeg\nFRAME\n")
	ys := make([]byte, w*h)
	cb, cr := make([]byte, w*h/4), make([]byte, w*h/4)
	for y := range h {
		for x := range w {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			yy, u, v := color.RGBToYCbCr(uint8(r>>8), uint8(g>>8), uint8(bl>>8))
			ys[y*w+x] = yy
			if x%2 == 0 && y%2 == 0 {
				cb[(y/2)*(w/2)+x/2], cr[(y/2)*(w/2)+x/2] = u, v
			}
		}
	}
	out.Write(ys)
	out.Write(cb)
	out.Write(cr)
	if err := out.Flush(); err != nil {
		t.Fatal(err)
	}
}

func itoa(n int) string { return string(appendInt(nil, n)) }

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

// TestDecodeQR: a Sky ID's code is read from PNG and JPEG pictures (a
// screen shot and a camera's photo), with or without "sky:"; other codes,
// pictures without one, non-pictures and oversized pictures are refused
// with a reason.
func TestDecodeQR(t *testing.T) {
	t.Parallel()
	const id = "7kq2m9xwpa"
	for _, tc := range []struct {
		name string
		pic  []byte
		want string
		err  string
	}{
		{"png", encoded(t, qrPicture(t, "sky:"+id, 6, 400, 400), false), id, ""},
		{"jpeg camera frame", encoded(t, qrPicture(t, "sky:"+id, 5, 640, 480), true), id, ""},
		{"bare ID", encoded(t, qrPicture(t, id, 6, 300, 300), false), id, ""},
		{"not a Sky ID", encoded(t, qrPicture(t, "WIFI:S:cafe;T:WPA;P:secret;;", 6, 400, 400), false), "", "not a Sky ID"},
		{"no code", encoded(t, image.NewGray(image.Rect(0, 0, 200, 200)), false), "", "No QR code found"},
		{"not a picture", []byte("<svg onload=alert(1)>"), "", "not a PNG or JPEG"},
		{"too many pixels", encoded(t, image.NewGray(image.Rect(0, 0, 8000, 4000)), false), "", "at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, err := decodeQR(tc.pic)
			var got string
			if err == nil {
				got, err = skyIDOf(text)
			}
			var ae *apiError
			switch {
			case tc.err == "" && (err != nil || got != tc.want):
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			case tc.err != "" && (err == nil || !errors.As(err, &ae) || !bytes.Contains([]byte(err.Error()), []byte(tc.err))):
				t.Fatalf("got %q, %v; want an error saying %q", got, err, tc.err)
			}
		})
	}
}

// FuzzDecodeQR: any bytes sent as a picture decode or are refused, never
// panic, and never make a Sky ID out of something that is not one.
func FuzzDecodeQR(f *testing.F) {
	f.Add(encoded(f, qrPicture(f, "sky:7kq2m9xwpa", 3, 120, 120), false))
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		text, err := decodeQR(b)
		if err != nil {
			return
		}
		if id, err := skyIDOf(text); err == nil && len(id) == 0 {
			t.Fatal("an empty Sky ID")
		}
	})
}
