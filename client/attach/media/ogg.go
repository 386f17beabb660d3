package media

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

// oggDuration reads an Ogg Opus or Vorbis file: the codec's header in the
// first page says the clock of the granule positions (Opus: always 48 kHz,
// less the pre-skip; Vorbis: its sample rate), and the last page of the
// same stream says how far it got.
func oggDuration(s src) (time.Duration, error) {
	first, err := s.read(0, min(s.size, 27+255+64))
	if err != nil {
		return 0, err
	}
	pg, err := oggPage(first)
	if err != nil {
		return 0, err
	}
	if pg.headerLen > len(first) {
		return 0, fmt.Errorf("%w: the first Ogg page's header runs past the file", ErrMalformed)
	}
	pkt := first[pg.headerLen:]
	var rate, skip uint64
	switch {
	case len(pkt) >= 19 && string(pkt[:8]) == "OpusHead":
		rate, skip = 48000, uint64(binary.LittleEndian.Uint16(pkt[10:]))
	case len(pkt) >= 16 && string(pkt[:7]) == "\x01vorbis":
		rate = uint64(binary.LittleEndian.Uint32(pkt[12:]))
	default:
		return 0, fmt.Errorf("%w: an Ogg stream of neither Opus nor Vorbis", ErrUnknown)
	}
	g, err := lastGranule(s, pg.serial)
	if err != nil {
		return 0, err
	}
	if g < skip {
		return 0, fmt.Errorf("%w: the last granule position is before the pre-skip", ErrMalformed)
	}
	return scale(g-skip, rate)
}

type page struct {
	granule   uint64
	serial    uint32
	headerLen int // header and segment table
	length    int // the whole page
}

// oggPage parses the page header at the start of b (the segment table
// must be in b; the body need not be).
func oggPage(b []byte) (page, error) {
	if len(b) < 27 || string(b[:4]) != "OggS" || b[4] != 0 {
		return page{}, fmt.Errorf("%w: not an Ogg page", ErrMalformed)
	}
	n := int(b[26])
	if len(b) < 27+n {
		return page{}, fmt.Errorf("%w: an Ogg segment table runs past the file", ErrMalformed)
	}
	body := 0
	for _, l := range b[27 : 27+n] {
		body += int(l)
	}
	return page{
		granule: binary.LittleEndian.Uint64(b[6:]), serial: binary.LittleEndian.Uint32(b[14:]),
		headerLen: 27 + n, length: 27 + n + body,
	}, nil
}

// lastGranule finds the last page of stream serial with a granule
// position, in the file's last readMax bytes, checking each candidate's
// CRC so that "OggS" inside audio data is not taken for a page.
func lastGranule(s src, serial uint32) (uint64, error) {
	start := max(0, s.size-readMax)
	b, err := s.read(start, s.size-start)
	if err != nil {
		return 0, err
	}
	for i := bytes.LastIndex(b, []byte("OggS")); i >= 0; i = bytes.LastIndex(b[:i], []byte("OggS")) {
		pg, err := oggPage(b[i:])
		if err != nil || pg.length > len(b)-i || pg.serial != serial || pg.granule == 1<<64-1 {
			continue
		}
		if oggCRC(b[i:i+pg.length]) != binary.LittleEndian.Uint32(b[i+22:]) {
			continue
		}
		return pg.granule, nil
	}
	return 0, fmt.Errorf("%w: no final Ogg page with a granule position", ErrMalformed)
}

var oggTable = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04c11db7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return t
}()

// oggCRC is the page checksum: CRC-32 (polynomial 0x04c11db7, not
// reflected, initial value 0) over the page with its CRC field as zeros.
func oggCRC(p []byte) uint32 {
	var c uint32
	for i, v := range p {
		if i >= 22 && i < 26 {
			v = 0
		}
		c = c<<8 ^ oggTable[byte(c>>24)^v]
	}
	return c
}
