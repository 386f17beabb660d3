package media

import (
	"encoding/binary"
	"fmt"
	"time"
)

// frameHeader is an MPEG audio frame header, decoded.
type frameHeader struct {
	mpeg1    bool
	layer    int // 1, 2 or 3
	bitrate  int // bits per second
	rate     int // samples per second
	padding  int
	mono     bool
	samples  int // per frame
	frameLen int // bytes, header included
}

var (
	mp3Rates    = [4][3]int{{11025, 12000, 8000}, {}, {22050, 24000, 16000}, {44100, 48000, 32000}} // by version bits
	mp3Bitrates = map[[2]int][15]int{                                                               // [mpeg1, layer] → kbit/s by index
		{1, 1}: {0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448},
		{1, 2}: {0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384},
		{1, 3}: {0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},
		{0, 1}: {0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256},
		{0, 2}: {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
		{0, 3}: {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
	}
)

// mp3Header decodes the frame header at the start of b, or nil if it is
// none (free-format frames, whose length is not in the header, included).
func mp3Header(b []byte) *frameHeader {
	if len(b) < 4 || b[0] != 0xff || b[1]&0xe0 != 0xe0 {
		return nil
	}
	ver, layerBits, bi, ri := b[1]>>3&3, b[1]>>1&3, int(b[2]>>4), int(b[2]>>2&3)
	if ver == 1 || layerBits == 0 || bi == 0 || bi == 15 || ri == 3 {
		return nil
	}
	h := &frameHeader{mpeg1: ver == 3, layer: 4 - int(layerBits), rate: mp3Rates[ver][ri], padding: int(b[2] >> 1 & 1), mono: b[3]>>6 == 3}
	m := 0
	if h.mpeg1 {
		m = 1
	}
	h.bitrate = mp3Bitrates[[2]int{m, h.layer}][bi] * 1000
	switch {
	case h.layer == 1:
		h.samples, h.frameLen = 384, (12*h.bitrate/h.rate+h.padding)*4
	case h.layer == 2 || h.mpeg1:
		h.samples, h.frameLen = 1152, 144*h.bitrate/h.rate+h.padding
	default:
		h.samples, h.frameLen = 576, 72*h.bitrate/h.rate+h.padding
	}
	return h
}

// mp3Duration reads an MP3 (any MPEG audio) file: past an ID3v2 tag, the
// first frame's Xing/Info or VBRI header gives the frame count; without
// one the stream is taken to be of the first frame's constant bitrate,
// and a second frame must follow the first where its length says.
func mp3Duration(s src) (time.Duration, error) {
	off, err := id3End(s)
	if err != nil {
		return 0, err
	}
	b, err := s.read(off, min(s.size-off, 4096))
	if err != nil {
		return 0, err
	}
	h := mp3Header(b)
	if h == nil || h.frameLen < 4 {
		return 0, fmt.Errorf("%w: no MPEG audio frame where one should start", ErrMalformed)
	}
	if frames, ok := vbrFrames(b, h); ok {
		return scale(frames*uint64(h.samples), uint64(h.rate))
	}
	if h.frameLen+4 > len(b) || mp3Header(b[h.frameLen:]) == nil {
		return 0, fmt.Errorf("%w: an MPEG audio frame not followed by another", ErrMalformed)
	}
	audio := s.size - off
	if t, err := s.read(s.size-128, 3); s.size-off >= 128 && err == nil && string(t) == "TAG" {
		audio -= 128 // ID3v1
	}
	return scale(uint64(audio)*8, uint64(h.bitrate))
}

// id3End returns where the audio starts: after an ID3v2 tag, or 0.
func id3End(s src) (int64, error) {
	b, err := s.read(0, min(s.size, 10))
	if err != nil || len(b) < 10 || string(b[:3]) != "ID3" {
		return 0, err
	}
	if b[3] < 2 || b[3] > 4 || b[6]|b[7]|b[8]|b[9] >= 0x80 {
		return 0, fmt.Errorf("%w: an ID3v2 tag header", ErrMalformed)
	}
	n := 10 + (int64(b[6])<<21 | int64(b[7])<<14 | int64(b[8])<<7 | int64(b[9]))
	if b[5]&0x10 != 0 {
		n += 10 // footer
	}
	if n >= s.size {
		return 0, fmt.Errorf("%w: an ID3v2 tag as long as the file", ErrMalformed)
	}
	return n, nil
}

// vbrFrames reads the frame count of a Xing/Info or VBRI header in the
// first frame b, which h describes.
func vbrFrames(b []byte, h *frameHeader) (uint64, bool) {
	side := 32
	switch {
	case h.mpeg1 && h.mono, !h.mpeg1 && !h.mono:
		side = 17
	case !h.mpeg1:
		side = 9
	}
	if x := 4 + side; h.layer == 3 && len(b) >= x+12 && (string(b[x:x+4]) == "Xing" || string(b[x:x+4]) == "Info") {
		if binary.BigEndian.Uint32(b[x+4:])&1 != 0 {
			n := uint64(binary.BigEndian.Uint32(b[x+8:]))
			return n, n > 0
		}
		return 0, false
	}
	if x := 36; len(b) >= x+18 && string(b[x:x+4]) == "VBRI" {
		n := uint64(binary.BigEndian.Uint32(b[x+14:]))
		return n, n > 0
	}
	return 0, false
}
