// Package strip removes metadata from photos before they are encrypted:
// EXIF (GPS position, camera serial, times), XMP and IPTC. It drops the
// segments or chunks that carry them and copies everything else byte for
// byte, so the image is never re-encoded and loses no quality:
//
//   - JPEG: APP1 (EXIF, XMP), APP2 other than ICC_PROFILE (FlashPix, MPF),
//     APP3–APP13 (APP13 holds IPTC), APP15, comments, and anything after
//     the end of the image (such as the video of a "motion photo"). APP0
//     (JFIF), ICC profiles and APP14 (Adobe, needed to read the colours
//     right) stay. The EXIF orientation, if not the default, is written
//     back as a minimal EXIF segment holding only it, so the photo is not
//     shown turned.
//
//   - PNG: eXIf, tEXt, zTXt, iTXt and tIME chunks, and anything after IEND.
//
//   - WebP: EXIF and "XMP " chunks, with their flags in VP8X cleared and
//     the RIFF size corrected.
//
//   - HEIC: the EXIF and XMP items of the meta box are overwritten in
//     place (an empty EXIF, an empty XMP packet), every box and offset left
//     as it was (see heic.go); the image's own rotation and mirroring are
//     properties of the image item, not EXIF, and stay.
//
// Every other type is refused with ErrUnsupported: such files are sent as
// they are, and the user interface says so.
//
// Strip streams: it holds one segment or chunk header at a time (for HEIC,
// the meta box, at most 4 MiB), never the image.
package strip

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Errors; test with errors.Is.
var (
	// ErrUnsupported: a type this package does not strip; send it as it
	// is and tell the user its metadata travels with it.
	ErrUnsupported = errors.New("metadata is not removed from this type of file")
	// ErrMalformed: the file does not parse as the type it claims.
	ErrMalformed = errors.New("the image is malformed")
)

// Result says what Strip removed.
type Result struct {
	Removed []string // what was dropped, e.g. "EXIF", "XMP", "comment"
}

// Type returns the MIME type of a file from its first bytes (at least 512
// are best), by content, never by name.
func Type(head []byte) string {
	if len(head) >= 12 && bytes.Equal(head[4:8], []byte("ftyp")) {
		switch string(head[8:12]) {
		case "heic", "heix", "heim", "heis", "mif1", "msf1":
			return "image/heic"
		}
	}
	t := http.DetectContentType(head)
	if i := bytes.IndexByte([]byte(t), ';'); i >= 0 && !bytes.HasPrefix([]byte(t), []byte("text/")) {
		t = t[:i]
	}
	return t
}

// Strippable reports whether Strip removes metadata from files of type typ.
func Strippable(typ string) bool {
	switch typ {
	case "image/jpeg", "image/png", "image/webp", "image/heic":
		return true
	}
	return false
}

// Strip copies the image in src (of MIME type typ) to dst without its
// metadata. For a type Strippable refuses it copies nothing and returns
// ErrUnsupported.
func Strip(dst io.Writer, src io.ReadSeeker, typ string) (Result, error) {
	var (
		r   Result
		err error
	)
	switch typ {
	case "image/jpeg":
		err = stripJPEG(dst, src, &r)
	case "image/png":
		err = stripPNG(dst, src, &r)
	case "image/webp":
		err = stripWebP(dst, src, &r)
	case "image/heic":
		err = stripHEIC(dst, src, &r)
	default:
		return r, fmt.Errorf("%w (%s)", ErrUnsupported, typ)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("%w: it ends early", ErrMalformed)
	}
	return r, err
}

func (r *Result) removed(what string) {
	for _, w := range r.Removed {
		if w == what {
			return
		}
	}
	r.Removed = append(r.Removed, what)
}
