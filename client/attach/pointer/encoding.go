package pointer

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers: the format.
const (
	fBlobID   = 1
	fKey      = 2
	fDigest   = 3
	fSize     = 4
	fPadded   = 5
	fType     = 6
	fName     = 7
	fWidth    = 8
	fHeight   = 9
	fPreview  = 10
	fDuration = 11 // milliseconds
	fCaption  = 12
	lastField = 12
)

// Encode returns the encoding of p, which must pass Check.
func Encode(p *Pointer) ([]byte, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 128+len(p.Name)+len(p.Type)+len(p.Preview)+len(p.Caption))
	b = protowire.AppendTag(b, fBlobID, protowire.BytesType)
	b = protowire.AppendBytes(b, p.BlobID[:])
	b = protowire.AppendTag(b, fKey, protowire.BytesType)
	b = protowire.AppendBytes(b, p.Key[:])
	b = protowire.AppendTag(b, fDigest, protowire.BytesType)
	b = protowire.AppendBytes(b, p.Digest[:])
	b = appendVarint(b, fSize, uint64(p.Size))
	b = appendVarint(b, fPadded, uint64(p.Padded))
	b = appendString(b, fType, p.Type)
	b = appendString(b, fName, p.Name)
	b = appendVarint(b, fWidth, uint64(p.Width))
	b = appendVarint(b, fHeight, uint64(p.Height))
	if len(p.Preview) > 0 {
		b = protowire.AppendTag(b, fPreview, protowire.BytesType)
		b = protowire.AppendBytes(b, p.Preview)
	}
	b = appendVarint(b, fDuration, uint64(p.Duration/time.Millisecond))
	b = appendString(b, fCaption, p.Caption)
	return b, nil
}

func appendVarint(b []byte, n protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendString(b []byte, n protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// Decode parses and checks an encoded pointer. The result shares no memory
// with b.
func Decode(b []byte) (*Pointer, error) {
	if len(b) > MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes is over %d", ErrMalformed, len(b), MaxBytes)
	}
	p := new(Pointer)
	var seen [lastField + 1]bool
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("%w: bad tag", ErrMalformed)
		}
		b = b[n:]
		if num > lastField {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return nil, fmt.Errorf("%w: bad unknown field %d", ErrMalformed, num)
			}
			b = b[n:]
			continue
		}
		if seen[num] {
			return nil, fmt.Errorf("%w: field %d twice", ErrMalformed, num)
		}
		seen[num] = true
		var err error
		if b, err = p.field(num, typ, b); err != nil {
			return nil, err
		}
	}
	if !seen[fBlobID] || !seen[fKey] || !seen[fDigest] || !seen[fPadded] {
		return nil, fmt.Errorf("%w: blob ID, key, digest or padded size missing", ErrMalformed)
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	return p, nil
}

// field reads one known field's value from b into p.
func (p *Pointer) field(num protowire.Number, typ protowire.Type, b []byte) ([]byte, error) {
	bad := func(what string) ([]byte, error) {
		return nil, fmt.Errorf("%w: field %d: %s", ErrMalformed, num, what)
	}
	switch num {
	case fSize, fPadded, fWidth, fHeight, fDuration:
		if typ != protowire.VarintType {
			return bad("not a varint")
		}
		v, n := protowire.ConsumeVarint(b)
		if n < 0 || v > 1<<40 {
			return bad("bad or too large varint")
		}
		switch num {
		case fSize:
			p.Size = int64(v)
		case fPadded:
			p.Padded = int64(v)
		case fWidth:
			p.Width = uint32(v)
		case fHeight:
			p.Height = uint32(v)
		case fDuration:
			if v > uint64(MaxDuration/time.Millisecond) {
				return bad("duration too long")
			}
			p.Duration = time.Duration(v) * time.Millisecond
		}
		if (num == fWidth || num == fHeight) && v > MaxDimension {
			return bad("dimension too large")
		}
		return b[n:], nil
	case 0:
		return bad("field number 0")
	}
	if typ != protowire.BytesType {
		return bad("not length-delimited")
	}
	v, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return bad("bad length")
	}
	fixed := func(dst []byte) ([]byte, error) {
		if len(v) != len(dst) {
			return bad(fmt.Sprintf("%d bytes, want %d", len(v), len(dst)))
		}
		copy(dst, v)
		return b[n:], nil
	}
	switch num {
	case fBlobID:
		return fixed(p.BlobID[:])
	case fKey:
		return fixed(p.Key[:])
	case fDigest:
		return fixed(p.Digest[:])
	case fType:
		p.Type = string(v)
	case fName:
		p.Name = string(v)
	case fPreview:
		if len(v) == 0 || len(v) > MaxPreviewBytes {
			return bad("preview size")
		}
		p.Preview = append([]byte(nil), v...)
	case fCaption:
		p.Caption = string(v)
	}
	return b[n:], nil
}
