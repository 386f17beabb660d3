package media

import (
	"encoding/binary"
	"fmt"
	"time"
)

// mp4Duration reads the movie header (moov/mvhd) of an ISO base media
// file (MP4, M4A, 3GP) or QuickTime movie: its duration in its timescale.
func mp4Duration(s src) (time.Duration, error) {
	moov, moovLen, err := findBox(s, 0, s.size, "moov")
	if err != nil {
		return 0, err
	}
	mvhd, n, err := findBox(s, moov, moov+moovLen, "mvhd")
	if err != nil {
		return 0, err
	}
	b, err := s.read(mvhd, min(n, 32))
	if err != nil {
		return 0, err
	}
	var ts, d uint64
	switch {
	case len(b) >= 20 && b[0] == 0:
		ts, d = uint64(binary.BigEndian.Uint32(b[12:])), uint64(binary.BigEndian.Uint32(b[16:]))
		if d == 0xffffffff {
			return 0, ErrUnknown
		}
	case len(b) >= 32 && b[0] == 1:
		ts, d = uint64(binary.BigEndian.Uint32(b[20:])), binary.BigEndian.Uint64(b[24:])
		if d == 1<<64-1 {
			return 0, ErrUnknown
		}
	default:
		return 0, fmt.Errorf("%w: a movie header of version %d and %d bytes", ErrMalformed, b[0], n)
	}
	return scale(d, ts)
}

// findBox walks the boxes in [off, end) and returns where the payload of
// the first of type typ starts and how long it is; ErrUnknown if there is
// none.
func findBox(s src, off, end int64, typ string) (int64, int64, error) {
	for i := 0; off < end; i++ {
		if i == maxElements {
			return 0, 0, fmt.Errorf("%w: more than %d boxes", ErrMalformed, maxElements)
		}
		h, err := s.read(off, min(16, end-off))
		if err != nil || len(h) < 8 {
			return 0, 0, fmt.Errorf("%w: a box header runs past its parent", ErrMalformed)
		}
		size, hdr := int64(binary.BigEndian.Uint32(h)), int64(8)
		switch size {
		case 0: // to the end of the parent
			size = end - off
		case 1:
			if len(h) < 16 {
				return 0, 0, fmt.Errorf("%w: a large box header runs past its parent", ErrMalformed)
			}
			size, hdr = int64(binary.BigEndian.Uint64(h[8:])), 16
		}
		if size < hdr || size > end-off {
			return 0, 0, fmt.Errorf("%w: a box of %d bytes in %d", ErrMalformed, size, end-off)
		}
		if string(h[4:8]) == typ {
			return off + hdr, size - hdr, nil
		}
		off += size
	}
	return 0, 0, fmt.Errorf("%w: no %s box", ErrUnknown, typ)
}
