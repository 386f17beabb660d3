package strip

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

var pngSig = []byte("\x89PNG\r\n\x1a\n")

// pngDropped names the chunks that carry metadata.
var pngDropped = map[string]string{
	"eXIf": "EXIF", "tEXt": "text", "zTXt": "text", "iTXt": "text (XMP)", "tIME": "time",
}

func stripPNG(dst io.Writer, src io.Reader, res *Result) error {
	r := bufio.NewReaderSize(src, 64<<10)
	w := bufio.NewWriterSize(dst, 64<<10)
	sig := make([]byte, 8)
	if _, err := io.ReadFull(r, sig); err != nil {
		return err
	}
	if !bytes.Equal(sig, pngSig) {
		return fmt.Errorf("%w: no PNG signature", ErrMalformed)
	}
	w.Write(sig)
	var h [8]byte
	for {
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return err
		}
		n := int64(binary.BigEndian.Uint32(h[:4]))
		if n > 1<<31-1 {
			return fmt.Errorf("%w: chunk of %d bytes", ErrMalformed, n)
		}
		typ := string(h[4:])
		if what, drop := pngDropped[typ]; drop {
			res.removed(what)
			if _, err := io.CopyN(io.Discard, r, n+4); err != nil {
				return err
			}
			continue
		}
		w.Write(h[:])
		if _, err := io.CopyN(w, r, n+4); err != nil { // data and CRC
			return err
		}
		if typ == "IEND" {
			if _, err := r.Peek(1); err == nil {
				res.removed("data after the image")
			}
			return w.Flush()
		}
	}
}
