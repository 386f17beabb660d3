package client

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"

	"github.com/skymsg/sky/client/profile"
)

// TestAtRestProfiles: a profile's name and picture, set by one user and
// kept by the other, are sealed in both stores like every other value:
// after both clients close, no file of either home holds the name or a
// run of the picture's bytes in plain.
func TestAtRestProfiles(t *testing.T) {
	s := startSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	a, b := alice.c.ID(), bob.c.ID()
	name := canaryText()
	pic, err := profile.AvatarOf(pngOf(t, 300, 200))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.c.SetProfile(name, pic); err != nil {
		t.Fatal(err)
	}
	alice.send(b, "hello")
	alice.flush()
	next(t, bob, func(e *ProfileEvent) bool { return e.Peer == a && e.Name == name })
	needles := map[string][]byte{"the profile name": []byte(name), "the picture": pic[len(pic)/2 : len(pic)/2+64]}
	alice.close()
	bob.close()
	for _, hit := range append(scan(t, alice.dir, needles), scan(t, bob.dir, needles)...) {
		t.Error(hit)
	}
}

// pngOf is a w×h PNG of a gradient (a picture a user might pick).
func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	im := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			im.Set(x, y, color.RGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, im); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
