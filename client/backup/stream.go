package backup

import (
	"bufio"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
)

// The file: a header in the clear, then the plaintext cut into chunks, each
// sealed with ChaCha20-Poly1305 as the STREAM construction (Hoang,
// Reyhanitabar, Rogaway, Vizár 2015) does it: the nonce is the chunk's
// number and a flag set only on the last chunk, and the header is every
// chunk's associated data. Chunks cannot be reordered, dropped, repeated or
// cut off (a file cut at a chunk boundary ends on a chunk not flagged last),
// and the header cannot be changed, without the reader noticing.
//
//	magic "SKYBACK\n" | version 1 (1 byte) | salt (32) | key check (32)
//
// Each file has a fresh random salt; HKDF-SHA256 derives from the recovery
// key and the salt the chunk key and the key check. The key check lets a
// wrong recovery key be told apart from a damaged file; it is a one-way
// function of the key and reveals nothing about it.

const (
	magic      = "SKYBACK\n"
	version    = 1
	saltLen    = 32
	checkLen   = 32
	headerLen  = len(magic) + 1 + saltLen + checkLen
	chunkSize  = 64 << 10
	sealedSize = chunkSize + chacha20poly1305.Overhead
)

type header struct {
	salt  [saltLen]byte
	check [checkLen]byte
}

func (h *header) bytes() []byte {
	b := make([]byte, 0, headerLen)
	b = append(b, magic...)
	b = append(b, version)
	b = append(b, h.salt[:]...)
	return append(b, h.check[:]...)
}

// keys derives the chunk key and the key check of one file.
func keys(k RecoveryKey, salt []byte) (cipher.AEAD, [checkLen]byte, error) {
	var check [checkLen]byte
	if k.IsZero() {
		return nil, check, ErrBadRecoveryCode
	}
	ck, err := hkdf.Key(sha256.New, k.b[:], salt, "sky backup v1 chunk key", chacha20poly1305.KeySize)
	if err != nil {
		return nil, check, err
	}
	defer clear(ck)
	c, err := hkdf.Key(sha256.New, k.b[:], salt, "sky backup v1 key check", checkLen)
	if err != nil {
		return nil, check, err
	}
	copy(check[:], c)
	aead, err := chacha20poly1305.New(ck)
	return aead, check, err
}

func nonce(n uint64, last bool) []byte {
	b := make([]byte, chacha20poly1305.NonceSize)
	binary.BigEndian.PutUint64(b[3:11], n)
	if last {
		b[11] = 1
	}
	return b
}

// sealWriter encrypts what is written to it into w. Close writes the last
// chunk; without it the file is incomplete (and refused on restore).
type sealWriter struct {
	w    io.Writer
	aead cipher.AEAD
	ad   []byte
	buf  []byte
	n    uint64
	err  error
}

func newSealWriter(w io.Writer, k RecoveryKey, salt [saltLen]byte) (*sealWriter, error) {
	aead, check, err := keys(k, salt[:])
	if err != nil {
		return nil, err
	}
	h := header{salt: salt, check: check}
	ad := h.bytes()
	if _, err := w.Write(ad); err != nil {
		return nil, fmt.Errorf("writing the backup: %w", err)
	}
	return &sealWriter{w: w, aead: aead, ad: ad, buf: make([]byte, 0, sealedSize)}, nil
}

func (s *sealWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	total := len(p)
	for len(p) > 0 {
		if len(s.buf) == chunkSize {
			s.flush(false)
			if s.err != nil {
				return total - len(p), s.err
			}
		}
		n := copy(s.buf[len(s.buf):chunkSize], p)
		s.buf = s.buf[:len(s.buf)+n]
		p = p[n:]
	}
	return total, nil
}

func (s *sealWriter) flush(last bool) {
	out := s.aead.Seal(s.buf[:0], nonce(s.n, last), s.buf, s.ad)
	if _, err := s.w.Write(out); err != nil {
		s.err = fmt.Errorf("writing the backup: %w", err)
	}
	clear(out)
	s.buf = s.buf[:0]
	s.n++
}

// Close seals the last chunk (possibly empty).
func (s *sealWriter) Close() error {
	if s.err != nil {
		return s.err
	}
	s.flush(true)
	if s.err == nil {
		s.err = errors.New("backup: the writer is closed")
		return nil
	}
	return s.err
}

// openReader checks the header of r against k and returns a reader of the
// plaintext. Read returns ErrDamaged for any chunk that does not
// authenticate, and io.EOF only after the last chunk did.
type openReader struct {
	r    *bufio.Reader
	aead cipher.AEAD
	ad   []byte
	ct   []byte
	pt   []byte // unread plaintext of the current chunk
	n    uint64
	done bool
	err  error
}

func newOpenReader(r io.Reader, k RecoveryKey) (*openReader, error) {
	br := bufio.NewReaderSize(r, sealedSize+1)
	hb := make([]byte, headerLen)
	if _, err := io.ReadFull(br, hb); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: it is shorter than a backup's header", ErrNotBackup)
		}
		return nil, fmt.Errorf("reading the backup: %w", err)
	}
	if string(hb[:len(magic)]) != magic {
		return nil, ErrNotBackup
	}
	if v := hb[len(magic)]; v != version {
		if v > version {
			return nil, ErrNewerVersion
		}
		return nil, fmt.Errorf("%w: unknown format version %d", ErrNotBackup, v)
	}
	salt := hb[len(magic)+1 : len(magic)+1+saltLen]
	aead, check, err := keys(k, salt)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(check[:], hb[len(magic)+1+saltLen:]) != 1 {
		return nil, ErrWrongKey
	}
	return &openReader{r: br, aead: aead, ad: hb, ct: make([]byte, sealedSize)}, nil
}

func (o *openReader) Read(p []byte) (int, error) {
	for len(o.pt) == 0 {
		if o.err != nil {
			return 0, o.err
		}
		if o.done {
			return 0, io.EOF
		}
		o.next()
	}
	n := copy(p, o.pt)
	o.pt = o.pt[n:]
	return n, nil
}

// next reads and opens one chunk. A short read is the last chunk; a full one
// is last when nothing follows it.
func (o *openReader) next() {
	n, err := io.ReadFull(o.r, o.ct)
	last := false
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		last = true
	case err != nil:
		o.err = fmt.Errorf("reading the backup: %w", err)
		return
	default:
		if _, perr := o.r.Peek(1); errors.Is(perr, io.EOF) {
			last = true
		} else if perr != nil {
			o.err = fmt.Errorf("reading the backup: %w", perr)
			return
		}
	}
	pt, err := o.aead.Open(o.ct[:0], nonce(o.n, last), o.ct[:n], o.ad)
	if err != nil {
		o.err = ErrDamaged
		return
	}
	o.pt, o.n, o.done = pt, o.n+1, last
}
