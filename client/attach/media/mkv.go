package media

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// Matroska (and WebM) element IDs this reader needs.
const (
	idEBML      = 0x1a45dfa3
	idSegment   = 0x18538067
	idInfo      = 0x1549a966
	idTimescale = 0x2ad7b1
	idDuration  = 0x4489
	sizeUnknown = -1
)

// mkvDuration reads a Matroska or WebM file: the Segment's Info element
// holds Duration, a float in units of TimestampScale nanoseconds
// (default 1 ms).
func mkvDuration(s src) (time.Duration, error) {
	off := int64(0)
	id, n, hdr, err := element(s, off, s.size)
	if err != nil || id != idEBML || n == sizeUnknown {
		return 0, fmt.Errorf("%w: no EBML header", ErrMalformed)
	}
	off += hdr + n
	id, n, hdr, err = element(s, off, s.size)
	if err != nil || id != idSegment {
		return 0, fmt.Errorf("%w: no Segment after the EBML header", ErrMalformed)
	}
	off += hdr
	end := s.size
	if n != sizeUnknown {
		end = off + n
	}
	for i := 0; off < end; i++ {
		if i == maxElements {
			return 0, fmt.Errorf("%w: more than %d elements", ErrMalformed, maxElements)
		}
		id, n, hdr, err = element(s, off, end)
		if err != nil {
			return 0, err
		}
		if n == sizeUnknown { // a live stream's Cluster: no Info ahead of it
			break
		}
		if id == idInfo {
			return mkvInfo(s, off+hdr, n)
		}
		off += hdr + n
	}
	return 0, fmt.Errorf("%w: no Segment Info", ErrUnknown)
}

// mkvInfo reads Duration and TimestampScale from the Info element's body.
func mkvInfo(s src, off, n int64) (time.Duration, error) {
	b, err := s.read(off, min(n, readMax))
	if err != nil {
		return 0, err
	}
	if int64(len(b)) < n {
		return 0, fmt.Errorf("%w: an Info element of %d bytes", ErrMalformed, n)
	}
	scale, dur := uint64(1_000_000), -1.0
	inner := src{r: bytesReaderAt(b), size: int64(len(b))}
	for pos, i := int64(0), 0; pos < inner.size; i++ {
		if i == maxElements {
			return 0, fmt.Errorf("%w: more than %d elements", ErrMalformed, maxElements)
		}
		id, l, hdr, err := element(inner, pos, inner.size)
		if err != nil || l == sizeUnknown {
			return 0, fmt.Errorf("%w: an Info child", ErrMalformed)
		}
		v := b[pos+hdr : pos+hdr+l]
		switch id {
		case idTimescale:
			if l < 1 || l > 8 {
				return 0, fmt.Errorf("%w: a TimestampScale of %d bytes", ErrMalformed, l)
			}
			scale = 0
			for _, c := range v {
				scale = scale<<8 | uint64(c)
			}
		case idDuration:
			switch l {
			case 4:
				dur = float64(math.Float32frombits(binary.BigEndian.Uint32(v)))
			case 8:
				dur = math.Float64frombits(binary.BigEndian.Uint64(v))
			default:
				return 0, fmt.Errorf("%w: a Duration of %d bytes", ErrMalformed, l)
			}
		}
		pos += hdr + l
	}
	if dur < 0 {
		return 0, fmt.Errorf("%w: Info without a Duration", ErrUnknown)
	}
	if scale == 0 {
		return 0, fmt.Errorf("%w: a TimestampScale of zero", ErrMalformed)
	}
	return seconds(dur * float64(scale) / 1e9)
}

// element reads the header of the EBML element at off (before end): its
// ID, the length of its body (sizeUnknown for "unknown") and the length of
// the header.
func element(s src, off, end int64) (id uint64, n, hdr int64, err error) {
	b, err := s.read(off, min(12, end-off))
	if err != nil {
		return 0, 0, 0, err
	}
	id, il := vint(b, true)
	if il == 0 || il > 4 {
		return 0, 0, 0, fmt.Errorf("%w: an EBML element ID", ErrMalformed)
	}
	size, sl := vint(b[il:], false)
	if sl == 0 {
		return 0, 0, 0, fmt.Errorf("%w: an EBML element size", ErrMalformed)
	}
	hdr = int64(il + sl)
	if size == 1<<(7*sl)-1 {
		return id, sizeUnknown, hdr, nil
	}
	if size > uint64(end-off-hdr) {
		return 0, 0, 0, fmt.Errorf("%w: an EBML element of %d bytes in %d", ErrMalformed, size, end-off-hdr)
	}
	return id, int64(size), hdr, nil
}

// vint reads an EBML variable-length integer at the start of b: with its
// length marker kept (IDs) or removed (sizes); its length is 0 if b holds
// none.
func vint(b []byte, keepMarker bool) (uint64, int) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0
	}
	l := 1
	for b[0]&(0x80>>(l-1)) == 0 {
		l++
	}
	if len(b) < l {
		return 0, 0
	}
	v := uint64(b[0])
	if !keepMarker {
		v &= 0xff >> l
	}
	for _, c := range b[1:l] {
		v = v<<8 | uint64(c)
	}
	return v, l
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	return copy(p, b[off:]), nil
}
