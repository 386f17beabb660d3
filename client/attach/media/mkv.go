package media

import (
	"bytes"
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
// holds Duration, a float in units of TimestampScale nanoseconds (default
// 1 ms). A live recording (a browser's MediaRecorder) has none; then the
// last cluster says how far the recording got (see lastBlock).
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
	body, end := off, s.size
	if n != sizeUnknown {
		end = off + n
	}
	scale := uint64(1_000_000)
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
			dur, sc, err := mkvInfo(s, off+hdr, n)
			if err != nil {
				return 0, err
			}
			if dur >= 0 {
				return seconds(dur * float64(sc) / 1e9)
			}
			scale = sc
			break
		}
		off += hdr + n
	}
	return lastBlock(s, body, min(end, s.size), scale)
}

// mkvInfo reads Duration (-1 if absent) and TimestampScale from the Info
// element's body.
func mkvInfo(s src, off, n int64) (float64, uint64, error) {
	b, err := s.read(off, min(n, readMax))
	if err != nil {
		return 0, 0, err
	}
	if int64(len(b)) < n {
		return 0, 0, fmt.Errorf("%w: an Info element of %d bytes", ErrMalformed, n)
	}
	scale, dur := uint64(1_000_000), -1.0
	inner := src{r: bytesReaderAt(b), size: int64(len(b))}
	for pos, i := int64(0), 0; pos < inner.size; i++ {
		if i == maxElements {
			return 0, 0, fmt.Errorf("%w: more than %d elements", ErrMalformed, maxElements)
		}
		id, l, hdr, err := element(inner, pos, inner.size)
		if err != nil || l == sizeUnknown {
			return 0, 0, fmt.Errorf("%w: an Info child", ErrMalformed)
		}
		v := b[pos+hdr : pos+hdr+l]
		switch id {
		case idTimescale:
			if l < 1 || l > 8 {
				return 0, 0, fmt.Errorf("%w: a TimestampScale of %d bytes", ErrMalformed, l)
			}
			scale = beUint(v)
		case idDuration:
			switch l {
			case 4:
				dur = float64(math.Float32frombits(binary.BigEndian.Uint32(v)))
			case 8:
				dur = math.Float64frombits(binary.BigEndian.Uint64(v))
			default:
				return 0, 0, fmt.Errorf("%w: a Duration of %d bytes", ErrMalformed, l)
			}
			if math.IsNaN(dur) || dur < 0 {
				return 0, 0, fmt.Errorf("%w: a Duration of %v", ErrMalformed, dur)
			}
		}
		pos += hdr + l
	}
	if scale == 0 || scale > 1<<40 {
		return 0, 0, fmt.Errorf("%w: a TimestampScale of %d", ErrMalformed, scale)
	}
	return dur, scale, nil
}

func beUint(v []byte) uint64 {
	var n uint64
	for _, c := range v {
		n = n<<8 | uint64(c)
	}
	return n
}

// Elements of a cluster, and the top-level elements that end a cluster of
// unknown size.
const (
	idCluster     = 0x1f43b675
	idTimestamp   = 0xe7
	idSimpleBlock = 0xa3
	idBlockGroup  = 0xa0
	idBlock       = 0xa1
	idBlockDur    = 0x9b
	idCues        = 0x1c53bb6b
	idTags        = 0x1254c367
)

// lastBlock reads a recording's length from its last cluster, found in the
// file's last readMax bytes (past the Segment's start at body, before end):
// the cluster's timestamp plus its last block's (and that block's duration
// when a block group gives one), in scale nanoseconds. An "ID" met inside
// audio data is told apart by parsing the cluster from it to its end; a
// block cut off at the end of the file is left out.
func lastBlock(s src, body, end int64, scale uint64) (time.Duration, error) {
	from := max(body, end-readMax)
	b, err := s.read(from, end-from)
	if err != nil {
		return 0, err
	}
	id := []byte{0x1f, 0x43, 0xb6, 0x75}
	for i := bytes.LastIndex(b, id); i >= 0; i = bytes.LastIndex(b[:i], id) {
		if t, ok := clusterEnd(b[i:]); ok {
			if t > math.MaxInt64/int64(scale) {
				return 0, fmt.Errorf("%w: a block at %d × %d ns", ErrMalformed, t, scale)
			}
			return time.Duration(t * int64(scale)), nil
		}
	}
	return 0, fmt.Errorf("%w: no Duration and no cluster to tell it", ErrUnknown)
}

// clusterEnd parses the cluster at the start of b and returns when its
// last block ends, in timestamp units; false if b does not start with a
// cluster that parses.
func clusterEnd(b []byte) (int64, bool) {
	w := src{r: bytesReaderAt(b), size: int64(len(b))}
	id, n, hdr, err := element(w, 0, w.size)
	if err != nil || id != idCluster {
		return 0, false
	}
	end := w.size
	if n != sizeUnknown {
		end = hdr + n
	}
	cts, last := int64(-1), int64(-1)
	for pos, i := hdr, 0; pos < end && i < maxElements; i++ {
		id, n, h, err := element(w, pos, end)
		if err != nil || n == sizeUnknown || id == idCluster || id == idCues || id == idTags {
			break // the file's end, cut short, or the cluster's
		}
		v := b[pos+h : pos+h+n]
		switch id {
		case idTimestamp:
			if n < 1 || n > 7 {
				return 0, false
			}
			cts = int64(beUint(v))
		case idSimpleBlock:
			t, ok := blockTime(v)
			if !ok || cts < 0 {
				return 0, false
			}
			last = max(last, cts+t)
		case idBlockGroup:
			t, ok := groupEnd(v)
			if !ok || cts < 0 {
				return 0, false
			}
			last = max(last, cts+t)
		}
		pos += h + n
	}
	return last, last >= 0
}

// blockTime is a (Simple)Block's timestamp relative to its cluster: after
// the track number, a signed 16-bit count.
func blockTime(v []byte) (int64, bool) {
	_, l := vint(v, false)
	if l == 0 || len(v) < l+3 {
		return 0, false
	}
	return int64(int16(binary.BigEndian.Uint16(v[l:]))), true
}

// groupEnd is when a BlockGroup's block ends, relative to its cluster.
func groupEnd(v []byte) (int64, bool) {
	w := src{r: bytesReaderAt(v), size: int64(len(v))}
	t, dur, ok := int64(0), int64(0), false
	for pos, i := int64(0), 0; pos < w.size && i < maxElements; i++ {
		id, n, h, err := element(w, pos, w.size)
		if err != nil || n == sizeUnknown {
			return 0, false
		}
		body := v[pos+h : pos+h+n]
		switch id {
		case idBlock:
			if t, ok = blockTime(body); !ok {
				return 0, false
			}
		case idBlockDur:
			if n < 1 || n > 4 {
				return 0, false
			}
			dur = int64(beUint(body))
		}
		pos += h + n
	}
	return t + dur, ok
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
