package strip

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
)

// HEIC (HEIF, ISO/IEC 23008-12) keeps EXIF and XMP as items of the file's
// meta box: each named in iinf (item type "Exif", or "mime" with content
// type application/rdf+xml) and located by iloc as extents in mdat (or in
// the meta box's idat). Removing the items would shift every offset after
// them; instead stripHEIC overwrites their bytes in place, leaving every
// box where it was, so the image is untouched and the file stays valid:
// an EXIF item becomes an empty EXIF (a TIFF header and an IFD of no
// entries, then zeros) and an XMP item an empty XMP packet padded with
// spaces. Every extent to overwrite must lie inside an mdat box or the
// idat box, so that a crafted file cannot make it overwrite its own
// structure; anything else is ErrMalformed.

const (
	maxMetaBytes = 4 << 20 // the meta box is read whole; real ones are kilobytes
	maxBoxes     = 4096
	maxExtents   = 64 // per item
)

// emptyExif is an EXIF item body with no tags: the offset of the TIFF
// header (0), a big-endian TIFF header, and an IFD with no entries.
var emptyExif = []byte("\x00\x00\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00")

// emptyXMP is an XMP packet that says nothing.
var emptyXMP = []byte(`<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"/><?xpacket end="w"?>`)

// shortXMP is an empty XMP document without the packet wrapper, for items
// too short for emptyXMP (shorter still, they become spaces).
var shortXMP = []byte(`<x:xmpmeta xmlns:x="adobe:ns:meta/"/>`)

// span is a byte range of the file to overwrite: fill first (if it fits
// the item), then pad to the end.
type span struct {
	off, n int64
	inMeta bool // off is within the meta box (an item in idat), not the file
	fill   []byte
	pad    byte
}

// box is an ISO BMFF box: where it starts, where its payload starts, and
// where it ends.
type box struct {
	typ              string
	start, body, end int64
}

// boxHeader reads the header in h of a box with at most avail bytes.
func boxHeader(h []byte, avail int64) (typ string, hdr, size int64, err error) {
	if len(h) < 8 || avail < 8 {
		return "", 0, 0, fmt.Errorf("%w: a HEIC box header runs past its parent", ErrMalformed)
	}
	size, hdr = int64(binary.BigEndian.Uint32(h)), 8
	switch size {
	case 0: // to the end of the parent
		size = avail
	case 1:
		if len(h) < 16 || avail < 16 {
			return "", 0, 0, fmt.Errorf("%w: a HEIC large box header runs past its parent", ErrMalformed)
		}
		size, hdr = int64(binary.BigEndian.Uint64(h[8:])), 16
	}
	if size < hdr || size > avail {
		return "", 0, 0, fmt.Errorf("%w: a HEIC box of %d bytes in %d", ErrMalformed, size, avail)
	}
	return string(h[4:8]), hdr, size, nil
}

// boxes lists the boxes in b[off:end].
func boxes(b []byte, off, end int64) ([]box, error) {
	var out []box
	for off < end {
		if len(out) == maxBoxes {
			return nil, fmt.Errorf("%w: more than %d HEIC boxes", ErrMalformed, maxBoxes)
		}
		typ, hdr, size, err := boxHeader(b[off:end], end-off)
		if err != nil {
			return nil, err
		}
		out = append(out, box{typ, off, off + hdr, off + size})
		off += size
	}
	return out, nil
}

// topBoxes lists the file's top-level boxes, seeking from header to header
// without reading a payload; it returns the file's size too.
func topBoxes(src io.ReadSeeker) ([]box, int64, error) {
	size, err := src.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, 0, err
	}
	var out []box
	var h [16]byte
	for off := int64(0); off < size; {
		if len(out) == maxBoxes {
			return nil, 0, fmt.Errorf("%w: more than %d HEIC boxes", ErrMalformed, maxBoxes)
		}
		if _, err := src.Seek(off, io.SeekStart); err != nil {
			return nil, 0, err
		}
		n, err := io.ReadFull(src, h[:min(size-off, 16)])
		if err != nil {
			return nil, 0, err
		}
		typ, hdr, bsize, err := boxHeader(h[:n], size-off)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, box{typ, off, off + hdr, off + bsize})
		off += bsize
	}
	return out, size, nil
}

// find returns the first box of type typ.
func find(bs []box, typ string) (box, bool) {
	for _, b := range bs {
		if b.typ == typ {
			return b, true
		}
	}
	return box{}, false
}

// stripHEIC copies the HEIC file in src to dst with its EXIF and XMP items
// overwritten (see above).
func stripHEIC(dst io.Writer, src io.ReadSeeker, r *Result) error {
	top, _, err := topBoxes(src)
	if err != nil {
		return err
	}
	if len(top) == 0 || top[0].typ != "ftyp" {
		return fmt.Errorf("%w: a HEIC file starts with ftyp", ErrMalformed)
	}
	mb, ok := find(top, "meta")
	if !ok || mb.end-mb.start > maxMetaBytes {
		return fmt.Errorf("%w: a HEIC file without a meta box of at most %d bytes", ErrMalformed, maxMetaBytes)
	}
	meta := make([]byte, mb.end-mb.start)
	if _, err := src.Seek(mb.start, io.SeekStart); err != nil {
		return err
	}
	if _, err := io.ReadFull(src, meta); err != nil {
		return err
	}
	spans, err := metaSpans(meta, mb.body-mb.start, r)
	if err != nil {
		return err
	}
	// Extents are relative to the file (method 0) or to idat's payload
	// (method 1, already made absolute within meta): each must lie in an
	// mdat payload or in idat's.
	for i := range spans {
		s := &spans[i]
		if s.n <= 0 || !s.inMeta && !inside(top, "mdat", s.off, s.n, 0) {
			return fmt.Errorf("%w: a metadata item outside the file's media data", ErrMalformed)
		}
		if s.inMeta {
			s.off, s.inMeta = s.off+mb.start, false
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return int(a.off - b.off) })
	for i := 1; i < len(spans); i++ {
		if spans[i].off < spans[i-1].off+spans[i-1].n {
			return fmt.Errorf("%w: metadata items overlap", ErrMalformed)
		}
	}
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return copyOver(dst, src, spans)
}

// inside reports whether [off, off+n) lies in the payload of one box of
// type typ in bs (whose offsets are relative to base).
func inside(bs []box, typ string, off, n, base int64) bool {
	for _, b := range bs {
		if b.typ == typ && off >= base+b.body && n <= base+b.end-off {
			return true
		}
	}
	return false
}

// copyOver copies src to dst, writing each span's fill and padding over
// its bytes.
func copyOver(dst io.Writer, src io.Reader, spans []span) error {
	pos := int64(0)
	for _, s := range spans {
		if _, err := io.CopyN(dst, src, s.off-pos); err != nil {
			return err
		}
		if _, err := io.CopyN(io.Discard, src, s.n); err != nil {
			return err
		}
		fill := s.fill
		if int64(len(fill)) > s.n {
			fill = nil
		}
		if _, err := dst.Write(fill); err != nil {
			return err
		}
		pad := bytes.Repeat([]byte{s.pad}, int(min(s.n-int64(len(fill)), 64<<10)))
		for left := s.n - int64(len(fill)); left > 0; left -= int64(len(pad)) {
			if _, err := dst.Write(pad[:min(left, int64(len(pad)))]); err != nil {
				return err
			}
		}
		pos = s.off + s.n
	}
	_, err := io.Copy(dst, src)
	return err
}
