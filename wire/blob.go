package wire

import "math/bits"

// Attachments: the sizes a blob may have, shared by clients (which pad and
// encrypt) and servers (which refuse any other length). See docs/protocol.md,
// "Attachments".

const (
	// BlobIDBytes is the length of a blob ID: random, chosen by the server,
	// and the only capability needed to download the blob.
	BlobIDBytes = 16
	// BlobChunkPlain is how many plaintext bytes one AEAD chunk of a blob
	// carries (the last chunk may carry fewer).
	BlobChunkPlain = 64 << 10
	// BlobChunkTag is what each chunk adds: its authentication tag.
	BlobChunkTag = 16
	// BlobTransferBytes is the most blob bytes one BlobPut carries or one
	// BlobData answers with. Uploads put them at multiples of it.
	BlobTransferBytes = 256 << 10
	// MinBlobPadded is the smallest padded plaintext: every file up to
	// 4 KiB looks the same.
	MinBlobPadded = 4 << 10
	// MaxBlobPadded is the protocol's hard ceiling on a padded plaintext;
	// servers set their own, lower limit (Limits.max_blob_bytes).
	MaxBlobPadded = 1 << 31
)

// BlobPadded returns the padded plaintext size of an n-byte file: at least
// MinBlobPadded, and otherwise n rounded up to the next of eight steps per
// power of two (m·2^e with 8 ≤ m < 16). So padding costs at most 12.5% (on
// average about 6%), and a blob's length tells only its size class: about
// eight classes per doubling. It returns 0 when n is negative or the
// result would exceed MaxBlobPadded.
func BlobPadded(n int64) int64 {
	if n < 0 || n > MaxBlobPadded {
		return 0
	}
	if n <= MinBlobPadded {
		return MinBlobPadded
	}
	step := int64(1) << (bits.Len64(uint64(n-1)) - 4)
	return (n + step - 1) / step * step
}

// BlobLen returns the stored length of a blob whose padded plaintext is
// padded bytes: the plaintext plus one tag per chunk.
func BlobLen(padded int64) int64 {
	chunks := (padded + BlobChunkPlain - 1) / BlobChunkPlain
	return padded + chunks*BlobChunkTag
}

// BlobPaddedOf inverts BlobLen: the padded plaintext size of a blob of
// length n, or 0 when no padded size has that length. Servers accept
// uploads of these lengths only.
func BlobPaddedOf(n int64) int64 {
	if n <= 0 {
		return 0
	}
	chunks := (n + BlobChunkPlain + BlobChunkTag - 1) / (BlobChunkPlain + BlobChunkTag)
	p := n - chunks*BlobChunkTag
	if p < MinBlobPadded || p > MaxBlobPadded || BlobPadded(p) != p || BlobLen(p) != n {
		return 0
	}
	return p
}

// Sentinels of the attachment errors, for errors.Is.
var (
	ErrQuotaExceeded = &Error{Code: Code_QUOTA_EXCEEDED}
	ErrBlobOffset    = &Error{Code: Code_BLOB_OFFSET}
)
