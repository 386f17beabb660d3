package profile

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	_ "image/png" // avatars may be PNG
	"io"
	"os"

	"github.com/skymsg/sky/client/content"
	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // avatars may be WebP
)

// Limits of an avatar picture the user picks.
const (
	// AvatarSide is the longer side, in pixels, of the avatar sent.
	AvatarSide = 256
	// MaxPictureBytes and MaxPicturePixels bound the file the user picks.
	MaxPictureBytes  = 32 << 20
	MaxPicturePixels = 50_000_000
)

// ErrBadPicture: the avatar file is not a JPEG, PNG or WebP picture Sky
// can read.
var ErrBadPicture = errors.New("the avatar must be a JPEG, PNG or WebP picture")

// Avatar reads the picture at path and makes the avatar sent of it: scaled
// down to fit AvatarSide pixels and encoded again as a JPEG, so nothing of
// the file but its pixels is shared (no EXIF, no location, no comments).
func Avatar(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the avatar: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxPictureBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the avatar: %w", err)
	}
	if len(data) > MaxPictureBytes {
		return nil, fmt.Errorf("the avatar file is larger than %d MiB; pick a smaller picture", MaxPictureBytes>>20)
	}
	return AvatarOf(data)
}

// AvatarOf is Avatar for a picture in memory.
func AvatarOf(data []byte) ([]byte, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, ErrBadPicture
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > MaxPicturePixels {
		return nil, fmt.Errorf("%w (at most %d megapixels)", ErrBadPicture, MaxPicturePixels/1_000_000)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, ErrBadPicture
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > AvatarSide || h > AvatarSide {
		if w >= h {
			w, h = AvatarSide, max(1, AvatarSide*h/w)
		} else {
			w, h = max(1, AvatarSide*w/h), AvatarSide
		}
	}
	small := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(small, small.Bounds(), img, b, draw.Src, nil)
	for q := 85; q >= 30; q -= 15 {
		var out bytes.Buffer
		if err := jpeg.Encode(&out, small, &jpeg.Options{Quality: q}); err != nil {
			return nil, fmt.Errorf("encoding the avatar: %w", err)
		}
		if out.Len() <= content.MaxAvatarBytes {
			return out.Bytes(), nil
		}
	}
	return nil, fmt.Errorf("the avatar does not fit %d KiB; pick a simpler picture", content.MaxAvatarBytes>>10)
}
