// Package media reads the playing time of audio and video files from their
// container headers, for the attachment pointer: MP4, M4A and QuickTime
// (the movie header, mvhd), Ogg Opus and Vorbis (the last page's granule
// position), WAV (data length over byte rate), FLAC (STREAMINFO), MP3
// (the Xing, Info or VBRI frame count, else the constant bitrate) and
// WebM/Matroska (Segment Info Duration, or for a live recording such as a
// browser's voice note the last cluster's last block).
//
// It never decodes audio or video. The parsers are strict and bounded: they
// read at most a few small windows of the file (never more than readMax
// bytes at once, never more than maxElements boxes, chunks or elements),
// check every length against the file, and refuse what does not add up
// with ErrMalformed. The input is the sender's own file, but the same code
// may one day read a stranger's, so it is fuzzed as if it were.
package media

import (
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// Errors; test with errors.Is.
var (
	// ErrUnknown: not a container this package reads, or one that does
	// not say its duration.
	ErrUnknown = errors.New("media: no duration known for this file")
	// ErrMalformed: the file claims a container but does not parse as one.
	ErrMalformed = errors.New("media: malformed container")
)

const (
	// readMax bounds one read of headers.
	readMax = 64 << 10
	// maxElements bounds the boxes, chunks, pages or elements walked.
	maxElements = 4096
	// maxDuration is the longest duration returned; longer is malformed.
	maxDuration = 7 * 24 * time.Hour
)

// Duration returns the playing time of the audio or video file in r, of
// size bytes, from its container's headers; the container is recognised
// by its content, never by name or MIME type.
func Duration(r io.ReaderAt, size int64) (time.Duration, error) {
	s := src{r: r, size: size}
	head, err := s.read(0, min(size, 64))
	if err != nil {
		return 0, err
	}
	var d time.Duration
	switch kind(head) {
	case kindMP4:
		d, err = mp4Duration(s)
	case kindOgg:
		d, err = oggDuration(s)
	case kindWAV:
		d, err = wavDuration(s)
	case kindFLAC:
		d, err = flacDuration(s)
	case kindMatroska:
		d, err = mkvDuration(s)
	case kindMP3:
		d, err = mp3Duration(s)
	default:
		return 0, ErrUnknown
	}
	if err != nil {
		return 0, err
	}
	if d < 0 || d > maxDuration {
		return 0, fmt.Errorf("%w: a duration of %v", ErrMalformed, d)
	}
	return d, nil
}

type container int

const (
	kindNone container = iota
	kindMP4
	kindOgg
	kindWAV
	kindFLAC
	kindMatroska
	kindMP3
)

// kind recognises a container by its first bytes.
func kind(h []byte) container {
	has := func(off int, s string) bool { return len(h) >= off+len(s) && string(h[off:off+len(s)]) == s }
	switch {
	case has(4, "ftyp"), has(4, "moov"), has(4, "mdat"), has(4, "wide"), has(4, "free"), has(4, "skip"):
		return kindMP4
	case has(0, "OggS"):
		return kindOgg
	case has(0, "RIFF") && has(8, "WAVE"):
		return kindWAV
	case has(0, "fLaC"):
		return kindFLAC
	case has(0, "\x1a\x45\xdf\xa3"):
		return kindMatroska
	case has(0, "ID3"), len(h) >= 4 && mp3Header(h) != nil:
		return kindMP3
	}
	return kindNone
}

// Type names the audio or video container in head (a file's first bytes)
// as a MIME type, or "" when it is none of these. It tells apart what
// content sniffing for the web lumps together or misses: M4A from MP4,
// QuickTime, Matroska, and MP3 without an ID3 tag.
func Type(head []byte) string {
	has := func(off int, s string) bool { return len(head) >= off+len(s) && string(head[off:off+len(s)]) == s }
	switch kind(head) {
	case kindMP4:
		switch {
		case has(8, "heic"), has(8, "heix"), has(8, "mif1"), has(8, "msf1"), has(8, "avif"), has(8, "avis"):
			return "" // HEIF and AVIF images share the box format
		case has(8, "M4A "), has(8, "M4B "):
			return "audio/mp4"
		case has(8, "qt  "), !has(4, "ftyp"):
			return "video/quicktime"
		}
		return "video/mp4"
	case kindOgg:
		return "audio/ogg"
	case kindWAV:
		return "audio/wav"
	case kindFLAC:
		return "audio/flac"
	case kindMatroska:
		if containsWebM(head[:min(len(head), 64)]) {
			return "video/webm"
		}
		return "video/x-matroska"
	case kindMP3:
		return "audio/mpeg"
	}
	return ""
}

func containsWebM(h []byte) bool {
	for i := 0; i+4 <= len(h); i++ {
		if string(h[i:i+4]) == "webm" {
			return true
		}
	}
	return false
}

// src is the file being read.
type src struct {
	r    io.ReaderAt
	size int64
}

// read returns the n bytes at off, which must lie inside the file.
func (s src) read(off, n int64) ([]byte, error) {
	if off < 0 || n < 0 || n > readMax || off > s.size || n > s.size-off {
		return nil, fmt.Errorf("%w: a header runs past the end of the file", ErrMalformed)
	}
	b := make([]byte, n)
	if _, err := s.r.ReadAt(b, off); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: the file is shorter than it says", ErrMalformed)
		}
		return nil, fmt.Errorf("media: reading the file: %w", err)
	}
	return b, nil
}

// scale is n units of which rate make a second.
func scale(n, rate uint64) (time.Duration, error) {
	if rate == 0 {
		return 0, fmt.Errorf("%w: a rate of zero", ErrMalformed)
	}
	secs := n / rate
	if secs > uint64(maxDuration/time.Second) {
		return 0, fmt.Errorf("%w: a duration of %d s", ErrMalformed, secs)
	}
	var frac uint64
	if rate <= 1<<32 { // n%rate < 2^32, so the product stays below 2^64
		frac = (n % rate) * uint64(time.Second) / rate
	} else {
		frac = uint64(float64(n%rate) / float64(rate) * float64(time.Second))
	}
	return time.Duration(secs)*time.Second + time.Duration(frac), nil
}

// seconds converts a floating-point count of seconds.
func seconds(f float64) (time.Duration, error) {
	if math.IsNaN(f) || f < 0 || f > maxDuration.Seconds() {
		return 0, fmt.Errorf("%w: a duration of %v s", ErrMalformed, f)
	}
	return time.Duration(f * float64(time.Second)), nil
}
