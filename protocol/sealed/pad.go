package sealed

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/pb"
)

// Padding. A sealed envelope's size follows from its content's, which
// varies with the inner message. A sender that wants every envelope to have
// one of a few sizes pads the content (Content.PadTo) with zero bytes in
// field 15, which libsignal does not define and every reader, libsignal
// included, skips. ContentSizeFor says how large the content must be for
// an envelope of a given size.

// paddingField is the Content field that carries padding.
const paddingField = 15

// envelopeFixed is the envelope without its third field's length and
// bytes: the version byte, the ephemeral key field, the encrypted sender
// key field and the third field's tag.
const envelopeFixed = 1 + (2 + curve.PublicKeySize) + (2 + EncryptedStaticSize) + 1

// EnvelopeSize returns the size of the envelope Encrypt makes from a
// content whose encoding is n bytes.
func EnvelopeSize(n int) int {
	body := n + macSize
	return envelopeFixed + protowire.SizeVarint(uint64(body)) + body
}

// ContentSizeFor returns the content encoding size that makes an envelope
// of exactly size bytes, and false if no content size does.
func ContentSizeFor(size int) (int, bool) {
	for v := 1; v <= 5; v++ {
		n := size - envelopeFixed - v - macSize
		if n >= 0 && EnvelopeSize(n) == size {
			return n, true
		}
	}
	return 0, false
}

// appendPadding appends padding fields taking exactly r bytes; r must be 0
// or at least 2 (the smallest field is a tag and a zero length).
func appendPadding(b []byte, r int) ([]byte, error) {
	for r > 0 {
		if r < 2 {
			return nil, errs.New(errs.InvalidMessage, "sealed content: cannot pad by exactly one byte")
		}
		// One field of n zero bytes takes 1 + len(varint(n)) + n bytes;
		// near a varint boundary no n fits exactly, and an empty field
		// (two bytes) goes first.
		n := -1
		for k := 1; k <= 5 && n < 0; k++ {
			if m := r - 1 - k; m >= 0 && protowire.SizeVarint(uint64(m)) == k {
				n = m
			}
		}
		if n < 0 {
			n = 0
		}
		b = pb.AppendBytes(b, paddingField, make([]byte, n))
		r -= 1 + protowire.SizeVarint(uint64(n)) + n
	}
	return b, nil
}
