package ws

import (
	"fmt"
	"io"
)

// Reader reads frames from a stream through its own buffer, for callers
// that keep a goroutine per connection (clients, load generators). skyd's
// connections parse frames with ParseHeader over buffers they borrow only
// while reading.
type Reader struct {
	r          io.Reader
	buf        []byte
	start, end int
	limit      int64
	// Server-side readers require masked frames; client-side readers
	// refuse them.
	wantMasked bool
}

// NewReader returns a Reader of frames of at most limit payload bytes.
// initial holds bytes already read from r (Dial's and Upgrade's leftovers).
// server says which side this is: servers read masked frames only, clients
// unmasked ones only.
func NewReader(r io.Reader, initial []byte, limit int64, server bool) *Reader {
	buf := make([]byte, max(4096, len(initial)))
	n := copy(buf, initial)
	return &Reader{r: r, buf: buf, end: n, limit: limit, wantMasked: server}
}

// Next returns the next frame, its payload unmasked. The payload is valid
// until the next call. Fragmented messages come as their frames; control
// frames may come between them.
func (r *Reader) Next() (Header, []byte, error) {
	for {
		h, n, err := ParseHeader(r.buf[r.start:r.end], r.limit)
		if err != nil {
			return h, nil, err
		}
		if n > 0 {
			if h.Masked != r.wantMasked {
				return h, nil, fmt.Errorf("%w: masking is wrong for this side of the connection", ErrProtocol)
			}
			total := n + int(h.Length)
			if r.end-r.start >= total {
				p := r.buf[r.start+n : r.start+total]
				if h.Masked {
					MaskBytes(h.Mask, 0, p)
				}
				r.start += total
				return h, p, nil
			}
			r.makeRoom(total)
		} else {
			r.makeRoom(MaxHeaderBytes)
		}
		m, err := r.r.Read(r.buf[r.end:])
		r.end += m
		if m == 0 && err != nil {
			if err == io.EOF && r.end > r.start {
				err = io.ErrUnexpectedEOF
			}
			return h, nil, err
		}
	}
}

// makeRoom moves unread bytes to the front and grows the buffer so that it
// can hold need unread bytes.
func (r *Reader) makeRoom(need int) {
	if r.start > 0 {
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
	}
	if need > len(r.buf) {
		nb := make([]byte, max(need, 2*len(r.buf)))
		copy(nb, r.buf[:r.end])
		r.buf = nb
	}
}
