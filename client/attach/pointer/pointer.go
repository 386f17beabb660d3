// Package pointer is the description of an attachment that travels inside
// an end-to-end encrypted message: which blob to fetch from the sender's
// Sky server (only its ID: never a URL, so a server cannot make a client
// fetch anything of its choosing), the key and digest to open it, its real
// and padded sizes, and what the recipient shows before downloading: MIME
// type, file name, an image's size and tiny blurred preview, a recording's
// duration, and a caption.
//
// The encoding is protobuf wire format written and read with protowire, as
// client/content's. Decode is strict: every field at most once, with its
// wire type, within its bound; the sizes consistent with the padding rule;
// text valid UTF-8 without control characters. Unknown fields are skipped,
// so later versions can add some.
package pointer

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/skymsg/sky/client/attach/blobcrypt"
	"github.com/skymsg/sky/wire"
)

// Bounds of a pointer's fields.
const (
	MaxTypeBytes    = 127
	MaxNameBytes    = 255
	MaxPreviewBytes = 4 << 10
	MaxCaptionBytes = 4 << 10
	MaxDimension    = 1 << 16
	MaxDuration     = 24 * time.Hour
	// MaxBytes bounds a whole encoded pointer.
	MaxBytes = 10 << 10
)

// ErrMalformed is returned (wrapped) for an encoding Decode refuses.
var ErrMalformed = errors.New("the attachment pointer is malformed")

// Pointer describes one attachment.
type Pointer struct {
	BlobID [wire.BlobIDBytes]byte
	Key    blobcrypt.Key
	Digest [blobcrypt.DigestSize]byte
	Size   int64 // the file's bytes
	Padded int64 // wire.BlobPadded(Size)

	Type     string        // MIME type, e.g. "image/jpeg"
	Name     string        // file name as the sender chose it; sanitise before use
	Width    uint32        // images and videos, in pixels; 0 if unknown
	Height   uint32        //
	Preview  []byte        // images: a tiny blurred JPEG, at most MaxPreviewBytes
	Duration time.Duration // audio and video, to the millisecond; 0 if unknown
	Caption  string
}

// Sum returns the blob's size and digest as blobcrypt gives them.
func (p *Pointer) Sum() blobcrypt.Sum {
	return blobcrypt.Sum{Size: p.Size, Padded: p.Padded, Digest: p.Digest}
}

// Len is the length of the blob on the server.
func (p *Pointer) Len() int64 { return wire.BlobLen(p.Padded) }

// String describes the attachment without its key.
func (p Pointer) String() string {
	return fmt.Sprintf("attachment{%q, %s, %d bytes, key redacted}", p.Name, p.Type, p.Size)
}

// GoString and Format keep the key out of every formatting verb.
func (p Pointer) GoString() string           { return p.String() }
func (p Pointer) Format(f fmt.State, _ rune) { fmt.Fprint(f, p.String()) }

// Check reports what is wrong with p, if anything.
func (p *Pointer) Check() error {
	switch {
	case p.Size < 0 || p.Padded != wire.BlobPadded(p.Size) || p.Padded == 0:
		return fmt.Errorf("%w: %d bytes cannot be padded to %d", ErrMalformed, p.Size, p.Padded)
	case !validType(p.Type):
		return fmt.Errorf("%w: MIME type %q", ErrMalformed, p.Type)
	case len(p.Name) > MaxNameBytes || !validText(p.Name, false):
		return fmt.Errorf("%w: file name is over %d bytes or not plain text", ErrMalformed, MaxNameBytes)
	case p.Width > MaxDimension || p.Height > MaxDimension:
		return fmt.Errorf("%w: image of %d×%d pixels", ErrMalformed, p.Width, p.Height)
	case len(p.Preview) > MaxPreviewBytes:
		return fmt.Errorf("%w: preview over %d bytes", ErrMalformed, MaxPreviewBytes)
	case p.Duration < 0 || p.Duration > MaxDuration || p.Duration%time.Millisecond != 0:
		return fmt.Errorf("%w: duration %v", ErrMalformed, p.Duration)
	case len(p.Caption) > MaxCaptionBytes || !validText(p.Caption, true):
		return fmt.Errorf("%w: caption is over %d bytes or not text", ErrMalformed, MaxCaptionBytes)
	}
	return nil
}

// validType accepts "type/subtype" of lower-case letters, digits and
// "+-.", with optional parameters of the same characters and "=;".
func validType(s string) bool {
	if len(s) == 0 || len(s) > MaxTypeBytes {
		return false
	}
	slash := strings.IndexByte(s, '/')
	if slash <= 0 || slash == len(s)-1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("+-._/=; ", c) >= 0
		if !ok || (c == '/' && i != slash) {
			return false
		}
	}
	return true
}

// validText accepts valid UTF-8 without control characters (new lines
// only where lines is set).
func validText(s string, lines bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(lines && (r == '\n' || r == '\t')) {
			return false
		}
	}
	return true
}
