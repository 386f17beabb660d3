package media

import (
	"encoding/binary"
	"fmt"
	"time"
)

// wavDuration reads a RIFF WAVE file: the data chunk's length over the
// format chunk's byte rate. A data chunk longer than the file (a recording
// whose header was never finished) counts what is there.
func wavDuration(s src) (time.Duration, error) {
	var byteRate uint64
	off := int64(12)
	for i := 0; off+8 <= s.size; i++ {
		if i == maxElements {
			return 0, fmt.Errorf("%w: more than %d chunks", ErrMalformed, maxElements)
		}
		h, err := s.read(off, 8)
		if err != nil {
			return 0, err
		}
		id, n := string(h[:4]), int64(binary.LittleEndian.Uint32(h[4:]))
		body := off + 8
		switch id {
		case "fmt ":
			if n < 16 || n > s.size-body {
				return 0, fmt.Errorf("%w: a format chunk of %d bytes", ErrMalformed, n)
			}
			f, err := s.read(body, 16)
			if err != nil {
				return 0, err
			}
			byteRate = uint64(binary.LittleEndian.Uint32(f[8:]))
			if byteRate == 0 {
				return 0, fmt.Errorf("%w: a byte rate of zero", ErrMalformed)
			}
		case "data":
			if byteRate == 0 {
				return 0, fmt.Errorf("%w: the data chunk comes before the format", ErrMalformed)
			}
			return scale(uint64(min(n, s.size-body)), byteRate)
		}
		off = body + n + n&1
	}
	return 0, fmt.Errorf("%w: no data chunk", ErrMalformed)
}
