package content

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/client/attach/pointer"
)

// MaxAttachments bounds the files of one message, so that a message with
// all its pointers still fits one sealed envelope.
const MaxAttachments = 10

// fTextAttachment is a text body's repeated field of encoded pointers
// (gAttachment in a group text).
const fTextAttachment = 3

func appendAttachments(b []byte, n protowire.Number, atts [][]byte) []byte {
	for _, a := range atts {
		b = appendBytes(b, n, a)
	}
	return b
}

// consumeAttachment reads one encoded pointer into c.Attachments.
func consumeAttachment(c *Content, typ protowire.Type, b *[]byte) error {
	v, err := consumeBytes(b, typ)
	if err != nil {
		return err
	}
	if len(c.Attachments) >= MaxAttachments {
		return malformed("too many attachments")
	}
	c.Attachments = append(c.Attachments, append([]byte(nil), v...))
	return nil
}

// checkAttachments checks the number of attachments and that each is a
// valid pointer (pointer.Decode is strict).
func checkAttachments(atts [][]byte) error {
	if len(atts) > MaxAttachments {
		return fmt.Errorf("%w: %d attachments, at most %d", ErrMalformed, len(atts), MaxAttachments)
	}
	for i, a := range atts {
		if _, err := pointer.Decode(a); err != nil {
			return fmt.Errorf("%w: attachment %d: %v", ErrMalformed, i+1, err)
		}
	}
	return nil
}
