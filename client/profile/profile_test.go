package profile

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"reflect"
	"testing"

	"github.com/skymsg/sky/client/content"
)

var pngHead = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

// TestRecord: a kept profile round-trips, and Decode refuses what content
// would refuse (bad names, lying avatars, repeated or unknown fields).
func TestRecord(t *testing.T) {
	p := content.Profile{Version: 7, Name: "Zoë", Avatar: pngHead, AvatarType: "image/png"}
	got, err := Decode(Encode(&p))
	if err != nil || !reflect.DeepEqual(got, p) {
		t.Fatalf("round trip: %v, %v", got, err)
	}
	for name, b := range map[string][]byte{
		"no version":    Encode(&content.Profile{Name: "x"}),
		"repeated":      append(Encode(&p), Encode(&p)...),
		"unknown field": append(Encode(&p), 0x28, 0x01),
		"bad name":      Encode(&content.Profile{Version: 1, Name: "a\u202eb"}),
		"lying avatar":  Encode(&content.Profile{Version: 1, Avatar: []byte("GIF89a"), AvatarType: "image/png"}),
		"truncated":     Encode(&p)[:10],
	} {
		if _, err := Decode(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(&content.Profile{Version: 7, Name: "Zoë", Avatar: pngHead, AvatarType: "image/png"}))
	f.Add(Encode(&content.Profile{Version: 1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			return
		}
		if q, err := Decode(Encode(&p)); err != nil || !reflect.DeepEqual(p, q) {
			t.Fatalf("a decoded record does not round-trip: %v", err)
		}
	})
}

// TestNames: nicknames win; a profile name shown is marked "~"; one equal
// (ignoring case, width and spaces) to anyone else's name or ID clashes.
func TestNames(t *testing.T) {
	nicks := map[string]string{"aaa": "Alice", "bbb": "", "ccc": ""}
	profiles := map[string]string{
		"aaa": "Queen",       // has a nickname: not shown
		"bbb": "ＡＬＩＣＥ",       // fullwidth, other case: poses as Alice
		"ccc": "Carol",       // fine
		"ddd": "Queen",       // equal to aaa's profile name, which is not shown... still a clash
		"eee": "ccc",         // poses as an ID
		"fff": "Carol  Ann ", // fine
	}
	want := map[string]string{
		"aaa": "Alice",
		"bbb": "~ＡＬＩＣＥ (same name as another contact)",
		"ccc": "~Carol",
		"ddd": "~Queen (same name as another contact)",
		"eee": "~ccc (same name as another contact)",
		"fff": "~Carol  Ann ",
	}
	got := Names(nicks, profiles)
	for id, w := range want {
		if d := got[id].Display(); d != w {
			t.Errorf("%s: %q, want %q", id, d, w)
		}
	}
	if d := (Name{ID: "zzz"}).Display(); d != "zzz" {
		t.Errorf("no name: %q", d)
	}
}

// TestAvatarOf: a picture is scaled to fit AvatarSide and sent as a fresh
// JPEG (nothing of the file but its pixels); what is not a picture is
// refused.
func TestAvatarOf(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 1000, 500))
	for x := 0; x < 1000; x++ {
		img.Set(x, x/2, color.RGBA{R: 200, A: 255})
	}
	var src bytes.Buffer
	png.Encode(&src, img)
	src.WriteString("tEXt secret trailer")
	out, err := AvatarOf(src.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if content.AvatarType(out) != "image/jpeg" || bytes.Contains(out, []byte("secret")) {
		t.Fatal("the avatar is not a clean JPEG")
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(out))
	if err != nil || cfg.Width != AvatarSide || cfg.Height != AvatarSide/2 {
		t.Fatalf("avatar is %dx%d (%v)", cfg.Width, cfg.Height, err)
	}
	if _, err := AvatarOf([]byte("<svg onload=alert(1)>")); err == nil {
		t.Fatal("an SVG was accepted")
	}
}
