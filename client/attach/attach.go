// Package attach carries files between Sky clients: it prepares a file
// (metadata stripped, encrypted into a local blob under a fresh key),
// uploads the blob to the user's Sky server in chunks and resumes after a
// dropped connection, downloads a blob named by a pointer, checks it, and
// decrypts it to where the user wants it.
//
// The pieces are apart: blobcrypt encrypts, pointer describes, strip
// removes metadata; this package does the I/O between them and the server.
// It never holds more than a few chunks of a file in memory.
//
// Errors are typed (errors.Is) and say what to do; a failed download never
// touches the message it came with.
package attach

import (
	"errors"
	"fmt"

	"github.com/skymsg/sky/client/attach/blobcrypt"
	"github.com/skymsg/sky/wire"
)

// Errors; test with errors.Is. The blobcrypt errors (ErrDigest,
// ErrTruncated, ErrTooLong, ErrTampered) come through as they are.
var (
	// ErrTooLarge: the file is over the server's limit.
	ErrTooLarge = errors.New("the file is over the server's attachment limit")
	// ErrQuota: the account uploaded its quota for now.
	ErrQuota = errors.New("the account's attachment quota is used up for now; try again later")
	// ErrMissing: the blob is not on the server: it expired (attachments
	// last as long as undelivered messages) or never existed.
	ErrMissing = errors.New("the attachment is no longer on the server (expired, or never uploaded); ask the sender to send it again")
	// ErrOverflow: the server sent more bytes than the pointer announced.
	ErrOverflow = errors.New("the server sent more of the attachment than its sender announced; it was refused")
	// ErrNoAttachments: the server takes no attachments.
	ErrNoAttachments = errors.New("this Sky server takes no attachments; ask its operator")
	// ErrNotDownloaded: the attachment has not been downloaded yet.
	ErrNotDownloaded = errors.New("the attachment has not been downloaded yet")
)

// Re-exported from blobcrypt, so callers need only this package.
var (
	ErrDigest    = blobcrypt.ErrDigest
	ErrTruncated = blobcrypt.ErrTruncated
	ErrTampered  = blobcrypt.ErrTampered
)

// serverError maps what the server refused with onto this package's errors.
func serverError(what string, err error) error {
	switch {
	case errors.Is(err, wire.ErrTooLarge):
		return fmt.Errorf("%s: %w (%v)", what, ErrTooLarge, err)
	case errors.Is(err, wire.ErrQuotaExceeded):
		return fmt.Errorf("%s: %w (%v)", what, ErrQuota, err)
	case errors.Is(err, wire.ErrNotFound):
		return fmt.Errorf("%s: %w", what, ErrMissing)
	case errors.Is(err, wire.ErrUnsupported):
		return fmt.Errorf("%s: %w", what, ErrNoAttachments)
	}
	return fmt.Errorf("%s: %w", what, err)
}
