package strip

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// JPEG markers.
const (
	mSOI  = 0xd8
	mEOI  = 0xd9
	mSOS  = 0xda
	mAPP0 = 0xe0
	mAPP1 = 0xe1
	mAPP2 = 0xe2
	mAP14 = 0xee
	mCOM  = 0xfe
)

func stripJPEG(dst io.Writer, src io.Reader, res *Result) error {
	r := bufio.NewReaderSize(src, 64<<10)
	w := bufio.NewWriterSize(dst, 64<<10)
	var soi [2]byte
	if _, err := io.ReadFull(r, soi[:]); err != nil {
		return err
	}
	if soi != [2]byte{0xff, mSOI} {
		return fmt.Errorf("%w: no JPEG start marker", ErrMalformed)
	}
	w.Write(soi[:])
	orientation := 0
	wroteOrientation := false
	seg := make([]byte, 0, 1<<16)
	afterScan := false // copyScan consumed the next marker's 0xff
	for {
		m, err := nextMarker(r, afterScan)
		if err != nil {
			return err
		}
		afterScan = false
		if m == mEOI {
			w.Write([]byte{0xff, mEOI})
			if _, err := r.Peek(1); err == nil {
				res.removed("data after the image")
			}
			return w.Flush()
		}
		if m >= 0xd0 && m <= 0xd7 || m == 0x01 { // no length
			w.Write([]byte{0xff, m})
			continue
		}
		var l [2]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint16(l[:]))
		if n < 2 {
			return fmt.Errorf("%w: segment length %d", ErrMalformed, n)
		}
		seg = seg[:n-2]
		if _, err := io.ReadFull(r, seg); err != nil {
			return err
		}
		keep, what := keepSegment(m, seg)
		if m == mAPP1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			orientation = exifOrientation(seg[6:])
		}
		if !keep {
			res.removed(what)
			continue
		}
		if m != mAPP0 && !wroteOrientation && orientation > 1 {
			// Before the first segment after APP0 and the metadata.
			w.Write(orientationSegment(orientation))
			wroteOrientation = true
		}
		w.Write([]byte{0xff, m, l[0], l[1]})
		w.Write(seg)
		if m == mSOS {
			if err := copyScan(w, r); err != nil {
				return err
			}
			afterScan = true
		}
	}
}

// keepSegment says whether a segment stays, and if not what it was.
func keepSegment(m byte, seg []byte) (bool, string) {
	switch {
	case m == mAPP0, m == mAP14:
		return true, ""
	case m == mAPP2 && bytes.HasPrefix(seg, []byte("ICC_PROFILE\x00")):
		return true, ""
	case m == mAPP1 && bytes.HasPrefix(seg, []byte("Exif\x00")):
		return false, "EXIF"
	case m == mAPP1:
		return false, "XMP"
	case m == 0xed:
		return false, "IPTC"
	case m == mCOM:
		return false, "comment"
	case m >= mAPP0 && m <= 0xef:
		return false, "application data"
	}
	return true, ""
}

// nextMarker reads up to and including the next marker byte, skipping fill
// bytes (0xff repeated); ff says the first 0xff was read already.
func nextMarker(r *bufio.Reader, ff bool) (byte, error) {
	var (
		b   byte = 0xff
		err error
	)
	if !ff {
		if b, err = r.ReadByte(); err != nil {
			return 0, err
		}
	}
	if b != 0xff {
		return 0, fmt.Errorf("%w: expected a marker, found 0x%02x", ErrMalformed, b)
	}
	for {
		if b, err = r.ReadByte(); err != nil {
			return 0, err
		}
		if b != 0xff {
			return b, nil
		}
	}
}

// copyScan copies entropy-coded data after a start of scan, up to the next
// marker other than a stuffed 0xff or a restart, whose 0xff it consumes.
func copyScan(w *bufio.Writer, r *bufio.Reader) error {
	for {
		b, err := r.ReadByte()
		if err != nil {
			return err
		}
		if b != 0xff {
			w.WriteByte(b)
			continue
		}
		nb, err := r.Peek(1)
		if err != nil {
			return err
		}
		if nb[0] == 0x00 || nb[0] >= 0xd0 && nb[0] <= 0xd7 {
			r.ReadByte()
			w.Write([]byte{0xff, nb[0]})
			continue
		}
		return nil
	}
}

// exifOrientation returns the Orientation tag (0x0112) of IFD0 in a TIFF
// structure, or 0.
func exifOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	off := int(bo.Uint32(t[4:]))
	if off < 8 || off+2 > len(t) {
		return 0
	}
	n := int(bo.Uint16(t[off:]))
	for i := range n {
		e := off + 2 + 12*i
		if e+12 > len(t) {
			return 0
		}
		if bo.Uint16(t[e:]) == 0x0112 && bo.Uint16(t[e+2:]) == 3 {
			if v := int(bo.Uint16(t[e+8:])); v >= 1 && v <= 8 {
				return v
			}
		}
	}
	return 0
}

// orientationSegment is an APP1 EXIF segment holding only the orientation.
func orientationSegment(o int) []byte {
	b := []byte{0xff, mAPP1, 0, 0}
	b = append(b, "Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08"...)
	b = append(b, 0, 1)                         // one entry
	b = append(b, 0x01, 0x12, 0, 3, 0, 0, 0, 1) // Orientation, SHORT, count 1
	b = append(b, 0, byte(o), 0, 0, 0, 0, 0, 0) // value, then no next IFD
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)-2))
	return b
}
