package tui

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// inert returns one line of peer-chosen text (a message, a name, a group
// name, what a command printed about them) that the terminal draws as
// characters only: control characters (C0, DEL, C1, so ESC and with it
// every escape sequence), bidirectional overrides and isolates, line and
// paragraph separators and invalid UTF-8 become visible placeholders, so a
// peer cannot move the cursor, retitle the window, write to the clipboard or
// reorder the text around their own.
func inert(s string) string {
	var b strings.Builder
	for i, w := 0, 0; i < len(s); i += w {
		r, n := utf8.DecodeRuneInString(s[i:])
		w = n
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteRune('\uFFFD')
		case r < 0x20:
			b.WriteRune(0x2400 + r) // the Control Pictures block: ␛ for ESC
		case r == 0x7f:
			b.WriteRune('\u2421') // ␡
		case r >= 0x80 && r < 0xa0, isBidiControl(r), r == 0x2028, r == 0x2029:
			fmt.Fprintf(&b, "<U+%04X>", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isBidiControl reports the explicit directional formatting characters
// (embeddings, overrides, isolates), which reorder the text after them.
// The implicit marks (U+200E, U+200F, U+061C) reorder nothing and stay.
func isBidiControl(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
}
