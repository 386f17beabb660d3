// Package annex is what later messages added to a stored message: the
// reactions to it and the texts an edit replaced. It is kept in the
// message's own store record (store.Message.Annex), sealed under the
// message's key, so it is destroyed exactly when the message is — by its
// timer or by a deletion for everyone — and never outlives it.
//
// The encoding is protobuf wire format: {1: reaction {1: by, 2: emoji,
// 3: at}}*, {2: edit {1: at, 2: replaced text}}*, {3: receipt {1: by,
// 2: "d" or "r", 3: at}}* (a group text's receipts, one per member). Decode checks every
// length and bound; the annex is written only by this device, but a
// corrupt one must not crash the reader.
package annex

import (
	"errors"
	"slices"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// Bounds of an annex.
const (
	// MaxReactions bounds the reactions one message keeps (one per
	// person).
	MaxReactions = 1000
	// MaxEdits bounds the earlier versions one message keeps; the oldest
	// go first.
	MaxEdits = 10
	// EditHistory is how long an earlier version is kept after the edit
	// that replaced it.
	EditHistory = 30 * 24 * time.Hour

	// MaxReceipts bounds the members' receipts one group text keeps (one
	// per member).
	MaxReceipts = 1000

	maxField = 64 << 10
)

// ErrCorrupt reports an annex that does not decode.
var ErrCorrupt = errors.New("a message's reactions or edits do not decode")

// Reaction is one person's reaction.
type Reaction struct {
	By    string
	Emoji string
	At    time.Time // the reactor's clock: a later one replaces an earlier one
}

// Edit is a text an edit replaced, and when.
type Edit struct {
	At   time.Time
	Text string
}

// Receipt is how far one member confirmed a group text: Read, or only
// delivered, and when this device learned it.
type Receipt struct {
	By   string
	Read bool
	At   time.Time
}

// Annex is what was added to a message.
type Annex struct {
	Reactions []Reaction // by person, one each
	Edits     []Edit     // oldest first
	Receipts  []Receipt  // by member, one each (only on the user's group texts)
}

// Confirm records by's receipt (read, or delivered) learned at `at`. A
// receipt never moves back (a delivery after a read changes nothing), and
// no more than MaxReceipts members are kept. It reports whether anything
// changed.
func (a *Annex) Confirm(by string, read bool, at time.Time) bool {
	for i, r := range a.Receipts {
		if r.By != by {
			continue
		}
		if r.Read || !read {
			return false
		}
		a.Receipts[i] = Receipt{By: by, Read: true, At: at}
		return true
	}
	if len(a.Receipts) >= MaxReceipts {
		return false
	}
	a.Receipts = append(a.Receipts, Receipt{By: by, Read: read, At: at})
	return true
}

// React records by's reaction (empty emoji: removed) sent at `at`; an
// older reaction than the one kept changes nothing (of two at the same
// time, the later to arrive wins). It reports whether
// anything changed.
func (a *Annex) React(by, emoji string, at time.Time) bool {
	for i, r := range a.Reactions {
		if r.By != by {
			continue
		}
		if at.Before(r.At) {
			return false
		}
		if emoji == "" {
			a.Reactions = slices.Delete(a.Reactions, i, i+1)
		} else {
			a.Reactions[i] = Reaction{By: by, Emoji: emoji, At: at}
		}
		return true
	}
	if emoji == "" || len(a.Reactions) >= MaxReactions {
		return false
	}
	a.Reactions = append(a.Reactions, Reaction{By: by, Emoji: emoji, At: at})
	return true
}

// Replaced records that an edit at `at` replaced text, and forgets
// versions older than EditHistory before now and beyond MaxEdits.
func (a *Annex) Replaced(text string, at, now time.Time) {
	a.Edits = append(a.Edits, Edit{At: at, Text: text})
	a.Prune(now)
}

// Prune forgets earlier versions past EditHistory or MaxEdits.
func (a *Annex) Prune(now time.Time) {
	a.Edits = slices.DeleteFunc(a.Edits, func(e Edit) bool { return now.Sub(e.At) > EditHistory })
	if n := len(a.Edits) - MaxEdits; n > 0 {
		a.Edits = slices.Delete(a.Edits, 0, n)
	}
}

// LastEdit returns when the message was last edited (zero: never).
func (a *Annex) LastEdit() time.Time {
	if len(a.Edits) == 0 {
		return time.Time{}
	}
	return a.Edits[len(a.Edits)-1].At
}

// Encode returns the encoding of a (nil for an empty annex).
func (a *Annex) Encode() []byte {
	var b []byte
	for _, r := range a.Reactions {
		var v []byte
		v = protowire.AppendTag(v, 1, protowire.BytesType)
		v = protowire.AppendString(v, r.By)
		v = protowire.AppendTag(v, 2, protowire.BytesType)
		v = protowire.AppendString(v, r.Emoji)
		v = protowire.AppendTag(v, 3, protowire.VarintType)
		v = protowire.AppendVarint(v, uint64(r.At.UnixMilli()))
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, v)
	}
	for _, e := range a.Edits {
		var v []byte
		v = protowire.AppendTag(v, 1, protowire.VarintType)
		v = protowire.AppendVarint(v, uint64(e.At.UnixMilli()))
		v = protowire.AppendTag(v, 2, protowire.BytesType)
		v = protowire.AppendString(v, e.Text)
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, v)
	}
	for _, r := range a.Receipts {
		state := "d"
		if r.Read {
			state = "r"
		}
		var v []byte
		v = protowire.AppendTag(v, 1, protowire.BytesType)
		v = protowire.AppendString(v, r.By)
		v = protowire.AppendTag(v, 2, protowire.BytesType)
		v = protowire.AppendString(v, state)
		v = protowire.AppendTag(v, 3, protowire.VarintType)
		v = protowire.AppendVarint(v, uint64(r.At.UnixMilli()))
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendBytes(b, v)
	}
	return b
}

// Decode parses an encoding made by Encode.
func Decode(b []byte) (Annex, error) {
	var a Annex
	for len(b) > 0 {
		num, v, rest, ok := next(b)
		if !ok || v == nil {
			return Annex{}, ErrCorrupt
		}
		b = rest
		strs, at, ok := fields(v)
		if !ok {
			return Annex{}, ErrCorrupt
		}
		switch {
		case num == 1 && len(a.Reactions) < MaxReactions && strs[1] != "" && strs[2] != "" && !at[3].IsZero():
			a.Reactions = append(a.Reactions, Reaction{By: strs[1], Emoji: strs[2], At: at[3]})
		case num == 2 && len(a.Edits) < MaxEdits && !at[1].IsZero():
			a.Edits = append(a.Edits, Edit{At: at[1], Text: strs[2]})
		case num == 3 && len(a.Receipts) < MaxReceipts && strs[1] != "" && (strs[2] == "d" || strs[2] == "r") && !at[3].IsZero():
			a.Receipts = append(a.Receipts, Receipt{By: strs[1], Read: strs[2] == "r", At: at[3]})
		default:
			return Annex{}, ErrCorrupt
		}
	}
	return a, nil
}

// next reads one length-delimited field.
func next(b []byte) (protowire.Number, []byte, []byte, bool) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || typ != protowire.BytesType {
		return 0, nil, nil, false
	}
	v, m := protowire.ConsumeBytes(b[n:])
	if m < 0 || len(v) > maxField {
		return 0, nil, nil, false
	}
	return num, v, b[n+m:], true
}

// fields reads the fields 1..3 of an entry: strings and millisecond times.
func fields(b []byte) (strs [4]string, at [4]time.Time, ok bool) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num < 1 || num > 3 {
			return strs, at, false
		}
		b = b[n:]
		switch typ {
		case protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 || !utf8.Valid(v) {
				return strs, at, false
			}
			strs[num], b = string(v), b[m:]
		case protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 || v > 1<<62 {
				return strs, at, false
			}
			at[num], b = time.UnixMilli(int64(v)), b[m:]
		default:
			return strs, at, false
		}
	}
	return strs, at, true
}
