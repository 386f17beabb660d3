package media

import (
	"encoding/binary"
	"fmt"
	"time"
)

// flacDuration reads a FLAC file's STREAMINFO block, which must come
// first: total samples over the sample rate (0 samples: unknown).
func flacDuration(s src) (time.Duration, error) {
	b, err := s.read(0, min(s.size, 4+4+34))
	if err != nil {
		return 0, err
	}
	if len(b) < 42 || b[4]&0x7f != 0 || int(b[5])<<16|int(b[6])<<8|int(b[7]) != 34 {
		return 0, fmt.Errorf("%w: FLAC without a STREAMINFO block first", ErrMalformed)
	}
	si := b[8:]
	v := binary.BigEndian.Uint64(si[10:]) // rate:20 channels:3 bits:5 samples:36
	rate, samples := v>>44, v&(1<<36-1)
	if samples == 0 {
		return 0, ErrUnknown
	}
	return scale(samples, rate)
}
