package strip

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// webpDropped names the chunks that carry metadata, with their VP8X flag.
var webpDropped = map[string]struct {
	what string
	flag byte
}{"EXIF": {"EXIF", 0x08}, "XMP ": {"XMP", 0x04}}

// stripWebP needs the output's size before writing it (in the RIFF header), so
// it reads the chunk headers once to add up what stays, then copies.
func stripWebP(dst io.Writer, src io.ReadSeeker, res *Result) error {
	var hdr [12]byte
	if _, err := io.ReadFull(src, hdr[:]); err != nil {
		return err
	}
	if string(hdr[:4]) != "RIFF" || string(hdr[8:]) != "WEBP" {
		return fmt.Errorf("%w: not a RIFF WEBP file", ErrMalformed)
	}
	riff := int64(binary.LittleEndian.Uint32(hdr[4:]))
	size := int64(4) // "WEBP"
	err := webpChunks(src, riff, func(fourcc string, n int64, r io.Reader) error {
		if _, drop := webpDropped[fourcc]; !drop {
			size += 8 + n + n&1
		}
		_, err := io.CopyN(io.Discard, r, n+n&1)
		return err
	})
	if err != nil {
		return err
	}
	if _, err := src.Seek(12, io.SeekStart); err != nil {
		return err
	}
	w := bufio.NewWriterSize(dst, 64<<10)
	binary.LittleEndian.PutUint32(hdr[4:], uint32(size))
	w.Write(hdr[:])
	err = webpChunks(src, riff, func(fourcc string, n int64, r io.Reader) error {
		if d, drop := webpDropped[fourcc]; drop {
			res.removed(d.what)
			_, err := io.CopyN(io.Discard, r, n+n&1)
			return err
		}
		var ch [8]byte
		copy(ch[:], fourcc)
		binary.LittleEndian.PutUint32(ch[4:], uint32(n))
		w.Write(ch[:])
		pad := n & 1
		if fourcc == "VP8X" && n >= 1 {
			var flags [1]byte
			if _, err := io.ReadFull(r, flags[:]); err != nil {
				return err
			}
			w.WriteByte(flags[0] &^ (0x08 | 0x04))
			n--
		}
		_, err := io.CopyN(w, r, n+pad)
		return err
	})
	if err != nil {
		return err
	}
	return w.Flush()
}

// webpChunks calls f for each chunk within the RIFF body of riff bytes
// (after "WEBP"); f must consume the chunk's data and padding from r.
func webpChunks(r io.Reader, riff int64, f func(fourcc string, n int64, r io.Reader) error) error {
	left := riff - 4
	br := bufio.NewReader(r)
	var ch [8]byte
	for left >= 8 {
		if _, err := io.ReadFull(br, ch[:]); err != nil {
			return err
		}
		n := int64(binary.LittleEndian.Uint32(ch[4:]))
		if 8+n+n&1 > left {
			return fmt.Errorf("%w: chunk %q overruns the file", ErrMalformed, ch[:4])
		}
		if err := f(string(ch[:4]), n, br); err != nil {
			return err
		}
		left -= 8 + n + n&1
	}
	return nil
}
