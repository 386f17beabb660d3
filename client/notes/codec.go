package notes

import (
	"errors"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// A note's record is protobuf wire format: 1 title, 2 text, 3 created,
// 4 updated (Unix milliseconds), 5 timer (milliseconds). The ID is the
// record's name.
const (
	fTitle   = 1
	fText    = 2
	fCreated = 3
	fUpdated = 4
	fTimer   = 5
)

func encodeNote(n *Note) []byte {
	var b []byte
	b = protowire.AppendTag(b, fTitle, protowire.BytesType)
	b = protowire.AppendString(b, n.Title)
	b = protowire.AppendTag(b, fText, protowire.BytesType)
	b = protowire.AppendString(b, n.Text)
	b = protowire.AppendTag(b, fCreated, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(n.Created.UnixMilli()))
	b = protowire.AppendTag(b, fUpdated, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(n.Updated.UnixMilli()))
	if n.Timer > 0 {
		b = protowire.AppendTag(b, fTimer, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(n.Timer/time.Millisecond))
	}
	return b
}

var errBadNote = errors.New("bad note record")

// decodeNote parses a record, checking every field's type, size and range.
func decodeNote(b []byte) (Note, error) {
	if len(b) > MaxTitleBytes+MaxTextBytes+64 {
		return Note{}, errBadNote
	}
	var n Note
	seen := map[protowire.Number]bool{}
	for len(b) > 0 {
		num, typ, k := protowire.ConsumeTag(b)
		if k < 0 || seen[num] {
			return Note{}, errBadNote
		}
		seen[num] = true
		b = b[k:]
		switch {
		case (num == fTitle || num == fText) && typ == protowire.BytesType:
			s, k := protowire.ConsumeString(b)
			if k < 0 || !utf8.ValidString(s) {
				return Note{}, errBadNote
			}
			if num == fTitle {
				n.Title = s
			} else {
				n.Text = s
			}
			b = b[k:]
		case (num == fCreated || num == fUpdated || num == fTimer) && typ == protowire.VarintType:
			v, k := protowire.ConsumeVarint(b)
			if k < 0 || v > 1<<50 {
				return Note{}, errBadNote
			}
			switch num {
			case fCreated:
				n.Created = time.UnixMilli(int64(v))
			case fUpdated:
				n.Updated = time.UnixMilli(int64(v))
			case fTimer:
				n.Timer = time.Duration(v) * time.Millisecond
			}
			b = b[k:]
		default:
			return Note{}, errBadNote
		}
	}
	if !seen[fTitle] || !seen[fText] || !seen[fCreated] || !seen[fUpdated] ||
		len(n.Title) > MaxTitleBytes || len(n.Text) > MaxTextBytes || n.Timer > MaxTimer || (n.Timer != 0 && n.Timer < MinTimer) {
		return Note{}, errBadNote
	}
	n.setExpiry()
	return n, nil
}
