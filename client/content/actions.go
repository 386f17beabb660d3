package content

import (
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// Actions on an earlier message (package client/actions): a reaction, an
// edit, a deletion for everyone. Each names its target by the target's
// stable message ID and, for a group's message, the group; each travels in
// the author's 1:1 session with every recipient (in a group: with every
// member), so only the sender the session authenticates can make one.
const (
	KindReaction Kind = 20
	KindEdit     Kind = 21
	KindDelete   Kind = 22
)

// Limits of actions and quotes.
const (
	// MaxEmojiBytes bounds a reaction: one emoji, with its modifiers and
	// joiners.
	MaxEmojiBytes = 32
	// MaxExcerptBytes bounds the excerpt a reply carries of the message
	// it quotes.
	MaxExcerptBytes = 200
)

// Quote is the message a text replies to: its stable ID and a short
// excerpt of it.
type Quote struct {
	ID      ID
	Excerpt string
}

// Field numbers: a text's quote (fTextQuote; gQuote in a group text) is
// {1: id, 2: excerpt}; an action's body is {1: target, 2: emoji or new
// text, 3: group ID}.
const (
	fTextQuote = 4
	gQuote     = 5

	aTarget = 1
	aValue  = 2
	aGroup  = 3

	qID      = 1
	qExcerpt = 2
)

// IsAction reports whether k is a reaction, an edit or a deletion.
func IsAction(k Kind) bool { return k >= KindReaction && k <= KindDelete }

func actionName(k Kind) string {
	switch k {
	case KindReaction:
		return "reaction"
	case KindEdit:
		return "edit"
	case KindDelete:
		return "delete"
	}
	return ""
}

// checkAction checks an action's body: a target, a value that fits its
// kind (a reaction's emoji, empty to remove it; an edit's new text; none
// for a deletion).
func (c *Content) checkAction() error {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrMalformed, why) }
	switch {
	case c.Target == ID{}:
		return bad("an action without a target")
	case c.Seq == 0:
		return bad("an action without a sequence number")
	case len(c.Attachments) > 0 || c.Quote != nil:
		return bad("attachments or a quote on an action")
	case !utf8.ValidString(c.Text):
		return bad("an action's text is not UTF-8")
	}
	switch c.Kind {
	case KindReaction:
		if len(c.Text) > MaxEmojiBytes || utf8.RuneCountInString(c.Text) > 10 {
			return bad("a reaction is one emoji")
		}
	case KindEdit:
		if c.Text == "" || len(c.Text) > MaxTextBytes {
			return bad("an edit's text is empty or too long")
		}
	case KindDelete:
		if c.Text != "" {
			return bad("a deletion carries no text")
		}
	}
	return nil
}

// checkQuote checks a text's quote.
func checkQuote(q *Quote) error {
	if q == nil {
		return nil
	}
	if q.ID == (ID{}) || len(q.Excerpt) > MaxExcerptBytes || !utf8.ValidString(q.Excerpt) {
		return fmt.Errorf("%w: a bad quote", ErrMalformed)
	}
	return nil
}

// Excerpt cuts text to at most MaxExcerptBytes on a character boundary.
func Excerpt(text string) string {
	if len(text) <= MaxExcerptBytes {
		return text
	}
	cut := MaxExcerptBytes
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return text[:cut]
}

func appendQuote(b []byte, n protowire.Number, q *Quote) []byte {
	if q == nil {
		return b
	}
	var v []byte
	v = appendBytes(v, qID, q.ID[:])
	if q.Excerpt != "" {
		v = appendString(v, qExcerpt, q.Excerpt)
	}
	return appendBytes(b, n, v)
}

func consumeQuote(c *Content, typ protowire.Type, b *[]byte) error {
	v, err := consumeBytes(b, typ)
	if err != nil {
		return err
	}
	q := &Quote{}
	var seen uint64
	for len(v) > 0 {
		num, t, n := protowire.ConsumeTag(v)
		if n < 0 {
			return malformed("bad tag in quote")
		}
		v = v[n:]
		if num < 64 {
			if seen&(1<<num) != 0 {
				return malformed("quote field repeated")
			}
			seen |= 1 << num
		}
		switch num {
		case qID, qExcerpt:
			f, err := consumeBytes(&v, t)
			if err != nil {
				return err
			}
			if num == qExcerpt {
				q.Excerpt = string(f)
			} else if len(f) != IDSize {
				return malformed("quoted ID size")
			} else {
				copy(q.ID[:], f)
			}
		default:
			if err := skipField(num, t, &v); err != nil {
				return err
			}
		}
	}
	c.Quote = q
	return nil
}

func appendActionBody(b []byte, c *Content) []byte {
	b = appendBytes(b, aTarget, c.Target[:])
	if c.Text != "" {
		b = appendString(b, aValue, c.Text)
	}
	if c.GroupID != (GroupID{}) {
		b = appendBytes(b, aGroup, c.GroupID[:])
	}
	return b
}

func decodeActionBody(c *Content, b []byte) error {
	var seen uint64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return malformed("bad tag in action")
		}
		b = b[n:]
		if num < 64 {
			if seen&(1<<num) != 0 {
				return malformed("action field repeated")
			}
			seen |= 1 << num
		}
		switch num {
		case aTarget, aValue, aGroup:
			v, err := consumeBytes(&b, typ)
			if err != nil {
				return err
			}
			switch {
			case num == aValue:
				c.Text = string(v)
			case num == aTarget && len(v) == IDSize:
				copy(c.Target[:], v)
			case num == aGroup && len(v) == GroupIDSize:
				copy(c.GroupID[:], v)
			default:
				return malformed("action ID size")
			}
		default:
			if err := skipField(num, typ, &b); err != nil {
				return err
			}
		}
	}
	return nil
}
