package blobcrypt

import (
	"crypto/cipher"
	"crypto/sha256"
	"errors"
	"hash"
	"io"

	"github.com/skymsg/sky/wire"
)

// Writer encrypts a file into a blob as it is written: Write the file,
// then Close to pad it and write the last chunk.
type Writer struct {
	w      io.Writer
	aead   cipher.AEAD
	h      hash.Hash
	buf    []byte // the chunk being filled, with room for the tag
	n      int    // plaintext bytes in buf
	chunk  uint64
	size   int64
	err    error
	closed bool
	nonce  [nonceSize]byte
}

// NewWriter returns a Writer that writes the blob of what it is given to w,
// encrypted under key.
func NewWriter(w io.Writer, key Key) (*Writer, error) {
	a, err := key.aead()
	if err != nil {
		return nil, err
	}
	return &Writer{w: w, aead: a, h: sha256.New(), buf: make([]byte, wire.BlobChunkPlain+wire.BlobChunkTag)}, nil
}

// Write encrypts p. A full chunk is written only once more follows, since
// the last chunk is sealed differently.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errors.New("blobcrypt: write after Close")
	}
	if w.size+int64(len(p)) > wire.MaxBlobPadded {
		w.err = ErrTooLarge
		return 0, w.err
	}
	total := len(p)
	for len(p) > 0 {
		if w.n == wire.BlobChunkPlain {
			if w.err = w.flush(false); w.err != nil {
				return total - len(p), w.err
			}
		}
		c := copy(w.buf[w.n:wire.BlobChunkPlain], p)
		w.n += c
		w.size += int64(c)
		p = p[c:]
	}
	return total, nil
}

// flush seals and writes the chunk in buf.
func (w *Writer) flush(final bool) error {
	out := w.aead.Seal(w.buf[:0], nonce(&w.nonce, w.chunk, final), w.buf[:w.n], nil)
	w.chunk++
	w.n = 0
	w.h.Write(out)
	_, err := w.w.Write(out)
	return err
}

// Close pads the file with zeros to its size class, writes the last chunk
// and returns what the pointer needs. It does not close the underlying
// writer.
func (w *Writer) Close() (Sum, error) {
	if w.err != nil {
		return Sum{}, w.err
	}
	if w.closed {
		return Sum{}, errors.New("blobcrypt: Close called twice")
	}
	w.closed = true
	padded := wire.BlobPadded(w.size)
	for left := padded - w.size; left > 0; {
		if w.n == wire.BlobChunkPlain {
			if err := w.flush(false); err != nil {
				w.err = err
				return Sum{}, err
			}
		}
		c := min(int64(wire.BlobChunkPlain-w.n), left)
		clear(w.buf[w.n : w.n+int(c)])
		w.n += int(c)
		left -= c
	}
	if err := w.flush(true); err != nil {
		w.err = err
		return Sum{}, err
	}
	s := Sum{Size: w.size, Padded: padded}
	w.h.Sum(s.Digest[:0])
	clear(w.buf)
	return s, nil
}
