package blobcrypt

import (
	"crypto/cipher"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"github.com/skymsg/sky/wire"
)

// Verify reads the whole blob from r and checks that it is exactly as long
// as padded implies and has the given digest. It decrypts nothing.
func Verify(r io.Reader, digest [DigestSize]byte, padded int64) error {
	want := wire.BlobLen(padded)
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(r, want+1))
	switch {
	case err != nil:
		return fmt.Errorf("reading the attachment: %w", err)
	case n < want:
		return fmt.Errorf("%w: %d of %d bytes", ErrTruncated, n, want)
	case n > want:
		return fmt.Errorf("%w: more than %d bytes", ErrTooLong, want)
	}
	if subtle.ConstantTimeCompare(h.Sum(nil), digest[:]) != 1 {
		return ErrDigest
	}
	return nil
}

// Open checks the blob in r against the digest (reading all of it), then
// returns a reader of its plaintext from the start: the file's size bytes,
// without padding. Nothing is decrypted unless the digest matches.
func Open(r io.ReadSeeker, key Key, digest [DigestSize]byte, size, padded int64) (*Reader, error) {
	if err := checkSizes(size, padded); err != nil {
		return nil, err
	}
	if err := Verify(r, digest, padded); err != nil {
		return nil, err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("rewinding the attachment: %w", err)
	}
	return NewReader(r, key, size, padded)
}

// Reader decrypts a blob chunk by chunk. It checks every chunk, the final
// flag, the zero padding and that nothing follows the last chunk; it does
// not check the digest (Open does, first).
type Reader struct {
	r      io.Reader
	aead   cipher.AEAD
	buf    []byte // one sealed chunk
	plain  []byte // decrypted bytes not yet read
	chunk  uint64
	chunks uint64 // how many the blob has
	left   int64  // file bytes not yet decrypted
	pad    int64  // padding bytes not yet decrypted
	err    error
	nonce  [nonceSize]byte
}

// NewReader returns a Reader of the blob in r, whose file has size bytes,
// padded to padded.
func NewReader(r io.Reader, key Key, size, padded int64) (*Reader, error) {
	if err := checkSizes(size, padded); err != nil {
		return nil, err
	}
	a, err := key.aead()
	if err != nil {
		return nil, err
	}
	return &Reader{
		r: r, aead: a,
		buf:    make([]byte, wire.BlobChunkPlain+wire.BlobChunkTag),
		chunks: uint64((padded + wire.BlobChunkPlain - 1) / wire.BlobChunkPlain),
		left:   size,
		pad:    padded - size,
	}, nil
}

// Read returns decrypted file bytes.
func (r *Reader) Read(p []byte) (int, error) {
	for len(r.plain) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.err = r.next()
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

// next decrypts the next chunk into plain, or returns io.EOF after the last.
func (r *Reader) next() error {
	if r.chunk == r.chunks {
		var one [1]byte
		if n, _ := io.ReadFull(r.r, one[:]); n > 0 {
			return ErrTooLong
		}
		return io.EOF
	}
	final := r.chunk == r.chunks-1
	want := wire.BlobChunkPlain + wire.BlobChunkTag
	if final {
		want = int(r.left+r.pad) + wire.BlobChunkTag // all before were full
	}
	n, err := io.ReadFull(r.r, r.buf[:want])
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: chunk %d has %d of %d bytes", ErrTruncated, r.chunk, n, want)
	} else if err != nil {
		return fmt.Errorf("reading the attachment: %w", err)
	}
	pt, err := r.aead.Open(r.buf[:0], nonce(&r.nonce, r.chunk, final), r.buf[:want], nil)
	if err != nil {
		return fmt.Errorf("%w (chunk %d)", ErrTampered, r.chunk)
	}
	r.chunk++
	keep := int(min(int64(len(pt)), r.left))
	r.left -= int64(keep)
	for _, b := range pt[keep:] {
		if b != 0 {
			return fmt.Errorf("%w: padding is not zero", ErrTampered)
		}
	}
	r.pad -= int64(len(pt) - keep)
	r.plain = pt[:keep] // empty for a chunk of padding only: Read reads on
	return nil
}
