package attach

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	_ "image/gif"
	"image/jpeg"
	_ "image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp"

	"github.com/skymsg/sky/client/attach/blobcrypt"
	"github.com/skymsg/sky/client/attach/media"
	"github.com/skymsg/sky/client/attach/pointer"
	"github.com/skymsg/sky/client/attach/strip"
)

// Prepared is a file ready to upload: its blob, encrypted in a local file,
// and its pointer (without the blob ID, which the server gives on upload).
type Prepared struct {
	Pointer  pointer.Pointer
	BlobPath string   // the encrypted blob; keep it as the sender's copy, or remove it
	Removed  []string // metadata removed, e.g. "EXIF"
	// AsIs says the file is sent as it is: a type whose metadata Sky does
	// not remove (documents, video, audio, photo types other than JPEG, PNG,
	// WebP and HEIC). Tell the user.
	AsIs bool
}

// Limits of previews: images with more pixels get none (decoding them
// would hold too much), and the preview's longer side.
const (
	maxPreviewPixels = 24 << 20
	previewSide      = 24
)

// Prepare encrypts the file at path into a new blob file in dir, after
// removing its metadata where Sky can. Only the file's base name and its
// content travel: never its path or its timestamps. maxFile is the largest
// file the server takes (0: no check here).
func Prepare(path, dir string, maxFile int64) (*Prepared, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening the file to send: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("opening the file to send: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", filepath.Base(path))
	}
	if maxFile > 0 && fi.Size() > maxFile {
		return nil, fmt.Errorf("%s is %d bytes: %w of %d bytes", filepath.Base(path), fi.Size(), ErrTooLarge, maxFile)
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	p := &Prepared{Pointer: pointer.Pointer{Type: strip.Type(head[:n]), Name: sendName(path), Key: blobcrypt.NewKey()}}
	if t := media.Type(head[:n]); t != "" && !strings.HasPrefix(p.Pointer.Type, "image/") {
		p.Pointer.Type = t
	}
	if d, err := media.Duration(f, fi.Size()); err == nil && d <= pointer.MaxDuration {
		p.Pointer.Duration = d.Truncate(time.Millisecond)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if cfg, _, err := image.DecodeConfig(f); err == nil && cfg.Width <= pointer.MaxDimension && cfg.Height <= pointer.MaxDimension {
		p.Pointer.Width, p.Pointer.Height = uint32(cfg.Width), uint32(cfg.Height)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p.BlobPath = filepath.Join(dir, randomName()+".blob")
	out, err := os.OpenFile(p.BlobPath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating the encrypted copy: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			out.Close()
			os.Remove(p.BlobPath)
		}
	}()
	w, err := blobcrypt.NewWriter(out, p.Pointer.Key)
	if err != nil {
		return nil, err
	}
	if err := p.encrypt(w, f); err != nil {
		return nil, err
	}
	sum, err := w.Close()
	if err != nil {
		return nil, fmt.Errorf("encrypting %s: %w", p.Pointer.Name, err)
	}
	if err := out.Sync(); err != nil {
		return nil, err
	}
	if err := out.Close(); err != nil {
		return nil, err
	}
	if maxFile > 0 && sum.Size > maxFile {
		return nil, fmt.Errorf("%s: %w of %d bytes", p.Pointer.Name, ErrTooLarge, maxFile)
	}
	p.Pointer.Size, p.Pointer.Padded, p.Pointer.Digest = sum.Size, sum.Padded, sum.Digest
	if p.Pointer.Width > 0 && int64(p.Pointer.Width)*int64(p.Pointer.Height) <= maxPreviewPixels {
		f.Seek(0, io.SeekStart)
		p.Pointer.Preview = preview(f)
	}
	ok = true
	return p, nil
}

// encrypt writes the file to w, stripped when its type allows.
func (p *Prepared) encrypt(w io.Writer, f *os.File) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if strip.Strippable(p.Pointer.Type) {
		res, err := strip.Strip(w, f, p.Pointer.Type)
		if err == nil {
			p.Removed = res.Removed
			return nil
		}
		if !errors.Is(err, strip.ErrMalformed) {
			return fmt.Errorf("removing metadata from %s: %w", p.Pointer.Name, err)
		}
		// Not the image it looks like: refuse rather than send metadata
		// the user thinks is gone.
		return fmt.Errorf("%s looks like %s but does not parse as one, so its metadata cannot be removed: %w", p.Pointer.Name, p.Pointer.Type, err)
	}
	p.AsIs = true
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("encrypting %s: %w", p.Pointer.Name, err)
	}
	return nil
}

// sendName is the name the recipient sees: the base name only, cut to the
// pointer's bound on a character boundary.
func sendName(path string) string {
	n := filepath.Base(path)
	for len(n) > pointer.MaxNameBytes {
		_, size := utf8.DecodeLastRuneInString(n)
		n = n[:len(n)-size]
	}
	b := []rune{}
	for _, r := range n {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = '_'
		}
		b = append(b, r)
	}
	return string(b)
}

// preview is a tiny JPEG of the image in r, at most previewSide pixels on
// its longer side: blurred by its size. nil when the image does not decode.
func preview(r io.Reader) []byte {
	img, _, err := image.Decode(r)
	if err != nil {
		return nil
	}
	b := img.Bounds()
	w, h := previewSide, previewSide
	if b.Dx() > b.Dy() {
		h = max(1, previewSide*b.Dy()/b.Dx())
	} else {
		w = max(1, previewSide*b.Dx()/b.Dy())
	}
	small := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.ApproxBiLinear.Scale(small, small.Bounds(), img, b, draw.Src, nil)
	var out bytes.Buffer
	if err := jpeg.Encode(&out, small, &jpeg.Options{Quality: 40}); err != nil || out.Len() > pointer.MaxPreviewBytes {
		return nil
	}
	return out.Bytes()
}

func randomName() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
