// Package safetext renders text that a peer chose (a message, a contact's
// or group's name, a file name) so that a terminal shows it and interprets
// none of it.
//
// A peer controls every byte of such text. Printed raw, a control character
// or an ANSI/OSC escape sequence can move the cursor, recolour or erase
// lines, set the window title or write to the clipboard; a bidi override
// can make the text read differently from the bytes; and a line break
// followed by "<date> <contact-id>: …" can pose as a message from someone
// else. Line shows every such character as a visible escape (`\x1b`,
// `\u202e`), and Text keeps a message's line breaks but begins each line
// after the first with Continuation, so that no line of peer text can look
// like the start of another entry. Every UI (the CLI, the TUI, the web UI's
// server-side logs) uses this one package.
package safetext

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Continuation begins every line of a message after its first, so a line
// of peer text cannot pose as a line of output (every entry of sky's output
// starts with a date, an ID or a word, never with spaces).
const Continuation = "    | "

// Line renders s for one line of output: control characters (C0, DEL, C1,
// line and paragraph separators), bidi controls and bytes that are not
// UTF-8 become visible escapes, and everything else is kept as it is. The
// result holds no character a terminal interprets.
func Line(s string) string {
	if isInert(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			fmt.Fprintf(&b, `\x%02x`, s[i])
			i++
			continue
		}
		i += n
		if !unsafe(r) {
			b.WriteRune(r)
			continue
		}
		writeEscape(&b, r)
	}
	return b.String()
}

// Lines splits s at its line breaks ("\n", "\r\n") and renders each line
// with Line; a lone "\r" stays in its line, escaped.
func Lines(s string) []string {
	parts := strings.Split(s, "\n")
	for i, p := range parts {
		if i < len(parts)-1 {
			p = strings.TrimSuffix(p, "\r")
		}
		parts[i] = Line(p)
	}
	return parts
}

// Text renders a message's text: its lines as Lines renders them, each
// line after the first begun with Continuation.
func Text(s string) string {
	return Indent(s, Continuation)
}

// Indent is Text with another continuation marker (a UI that lays out its
// own columns passes its own). An empty or unsafe marker is replaced by
// Continuation.
func Indent(s, marker string) string {
	if marker == "" || !isInert(marker) {
		marker = Continuation
	}
	if !strings.Contains(s, "\n") {
		return Line(s)
	}
	return strings.Join(Lines(s), "\n"+marker)
}

// isInert reports whether s is valid UTF-8 with no character Line escapes.
func isInert(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n <= 1) || unsafe(r) {
			return false
		}
		i += n
	}
	return true
}

// unsafe reports whether a terminal may interpret r, or r may change how
// the text around it reads: control characters (C0, DEL, C1), line and
// paragraph separators, bidi controls (embeddings, overrides, isolates and
// marks), and invisible characters that can hide text or make two names
// look alike.
func unsafe(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r < 0xa0:
		return true
	case r < 0x7f:
		return false
	case unicode.Is(unicode.Bidi_Control, r), r == '\u2028', r == '\u2029':
		return true
	case r == '\u200b', r == '\u2060', r == '\ufeff', r >= '\ufff9' && r <= '\ufffb':
		return true // zero-width space, word joiner, BOM, interlinear annotations
	}
	return false
}

// writeEscape writes r as a visible escape: `\n`, `\r`, `\t` for the usual
// three, `\xHH` for other C0 characters and DEL, `\uHHHH` for the rest.
func writeEscape(b *strings.Builder, r rune) {
	switch r {
	case '\n':
		b.WriteString(`\n`)
	case '\r':
		b.WriteString(`\r`)
	case '\t':
		b.WriteString(`\t`)
	default:
		if r < 0x80 {
			fmt.Fprintf(b, `\x%02x`, r)
		} else {
			fmt.Fprintf(b, `\u%04x`, r)
		}
	}
}
