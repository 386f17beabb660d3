package strip

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// metaItem is what iinf says of an item that carries metadata.
type metaItem struct {
	what       string // "EXIF" or "XMP"
	compressed bool   // a content encoding (XMP may be deflated)
}

// metaSpans reads the meta box in meta (its payload from body) and returns
// the extents of its EXIF and XMP items, with what to write over them:
// file offsets, or (inMeta) offsets within meta for items in idat.
func metaSpans(meta []byte, body int64, r *Result) ([]span, error) {
	if int64(len(meta)) < body+4 {
		return nil, fmt.Errorf("%w: a HEIC meta box without its version", ErrMalformed)
	}
	kids, err := boxes(meta, body+4, int64(len(meta)))
	if err != nil {
		return nil, err
	}
	iinf, ok1 := find(kids, "iinf")
	iloc, ok2 := find(kids, "iloc")
	if !ok1 {
		return nil, nil // no items, no metadata items
	}
	items, err := parseIinf(meta[iinf.body:iinf.end])
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, nil
	}
	if !ok2 {
		return nil, fmt.Errorf("%w: HEIC items without locations", ErrMalformed)
	}
	idat, hasIdat := find(kids, "idat")
	var spans []span
	err = parseIloc(meta[iloc.body:iloc.end], func(id uint32, method int, ext []extent) error {
		it, ok := items[id]
		if !ok {
			return nil
		}
		for i, e := range ext {
			s := span{off: e.off, n: e.n}
			switch method {
			case 0:
			case 1:
				if !hasIdat || e.off > int64(len(meta)) || !inside([]box{idat}, "idat", idat.body+e.off, e.n, 0) {
					return fmt.Errorf("%w: a metadata item outside idat", ErrMalformed)
				}
				s.off, s.inMeta = idat.body+e.off, true
			default:
				return fmt.Errorf("%w: a metadata item built from other items (construction method %d)", ErrMalformed, method)
			}
			switch {
			case it.compressed:
			case it.what == "EXIF" && i == 0:
				s.fill = emptyExif
			case it.what == "XMP":
				s.pad = ' '
				if i == 0 && e.n >= int64(len(emptyXMP)) {
					s.fill = emptyXMP
				} else if i == 0 {
					s.fill = shortXMP
				}
			}
			spans = append(spans, s)
		}
		r.removed(it.what)
		return nil
	})
	return spans, err
}

// parseIinf returns the EXIF and XMP items of the item information box
// whose payload is b.
func parseIinf(b []byte) (map[uint32]metaItem, error) {
	if len(b) < 6 {
		return nil, fmt.Errorf("%w: a short HEIC iinf box", ErrMalformed)
	}
	off := int64(6)
	if b[0] != 0 {
		off = 8
	}
	kids, err := boxes(b, min(off, int64(len(b))), int64(len(b)))
	if err != nil {
		return nil, err
	}
	items := map[uint32]metaItem{}
	for _, k := range kids {
		if k.typ != "infe" {
			continue
		}
		id, it, ok, err := parseInfe(b[k.body:k.end])
		if err != nil {
			return nil, err
		}
		if ok {
			items[id] = it
		}
	}
	return items, nil
}

// parseInfe reads one item information entry: its ID, and whether it is
// an EXIF or XMP item.
func parseInfe(b []byte) (uint32, metaItem, bool, error) {
	bad := fmt.Errorf("%w: a HEIC item information entry", ErrMalformed)
	if len(b) < 4 {
		return 0, metaItem{}, false, bad
	}
	v, rest := b[0], b[4:]
	var id uint32
	switch {
	case v >= 3 && len(rest) >= 4:
		id, rest = binary.BigEndian.Uint32(rest), rest[4:]
	case len(rest) >= 2:
		id, rest = uint32(binary.BigEndian.Uint16(rest)), rest[2:]
	default:
		return 0, metaItem{}, false, bad
	}
	if len(rest) < 2 {
		return 0, metaItem{}, false, bad
	}
	rest = rest[2:] // protection index
	typ := "mime"
	if v >= 2 {
		if len(rest) < 4 {
			return 0, metaItem{}, false, bad
		}
		typ, rest = string(rest[:4]), rest[4:]
	}
	_, rest, _ = cstring(rest) // item name
	switch typ {
	case "Exif":
		return id, metaItem{what: "EXIF"}, true, nil
	case "mime":
		ct, rest, ok := cstring(rest)
		if !ok {
			return 0, metaItem{}, false, bad
		}
		enc, _, _ := cstring(rest)
		if ct == "application/rdf+xml" {
			return id, metaItem{what: "XMP", compressed: enc != ""}, true, nil
		}
	}
	return id, metaItem{}, false, nil
}

// cstring splits a NUL-terminated string off b; ok is false if there is
// no NUL (the string then runs to the end of b).
func cstring(b []byte) (string, []byte, bool) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return string(b), nil, false
	}
	return string(b[:i]), b[i+1:], true
}

// extent is one piece of an item: offset (before the construction
// method's base) and length.
type extent struct{ off, n int64 }

// parseIloc walks the item location box whose payload is b, calling each
// for every item with its construction method and extents.
func parseIloc(b []byte, each func(id uint32, method int, ext []extent) error) error {
	bad := func(what string) error { return fmt.Errorf("%w: HEIC item locations: %s", ErrMalformed, what) }
	rd := reader{b: b}
	v := rd.uint(1)
	rd.uint(3) // flags
	sizes := rd.uint(2)
	offSize, lenSize, baseSize, idxSize := int(sizes>>12), int(sizes>>8&15), int(sizes>>4&15), int(sizes&15)
	if v > 2 || !validSize(offSize) || !validSize(lenSize) || !validSize(baseSize) || (v > 0 && !validSize(idxSize)) {
		return bad("version or field sizes")
	}
	idSize := 2
	if v == 2 {
		idSize = 4
	}
	count := rd.uint(idSize)
	if count > maxBoxes {
		return bad("too many items")
	}
	for range count {
		id := uint32(rd.uint(idSize))
		method := 0
		if v > 0 {
			method = int(rd.uint(2) & 15)
		}
		dataRef := rd.uint(2)
		base := rd.uint(baseSize)
		n := rd.uint(2)
		if n > maxExtents || rd.err {
			return bad("too many extents")
		}
		ext := make([]extent, 0, n)
		for range n {
			if v > 0 {
				rd.uint(idxSize)
			}
			off, l := rd.uint(offSize), rd.uint(lenSize)
			if base > 1<<61 || off > 1<<61 || l > 1<<61 {
				return bad("an extent beyond any file")
			}
			ext = append(ext, extent{int64(base + off), int64(l)})
		}
		if rd.err {
			return bad("truncated")
		}
		if dataRef != 0 {
			method = -1 // in another file: refused if it is a metadata item
		}
		if err := each(id, method, ext); err != nil {
			return err
		}
	}
	return nil
}

func validSize(n int) bool { return n == 0 || n == 4 || n == 8 }

// reader reads big-endian unsigned fields, remembering if it ran out.
type reader struct {
	b   []byte
	err bool
}

func (r *reader) uint(n int) uint64 {
	if n > len(r.b) {
		r.err, r.b = true, nil
		return 0
	}
	var v uint64
	for _, c := range r.b[:n] {
		v = v<<8 | uint64(c)
	}
	r.b = r.b[n:]
	return v
}
