package tui

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/ui/safetext"
)

// measure counts cells as the renderer does: by wcwidth until the terminal
// says it counts grapheme clusters (mode 2027), then by graphemes, so that
// emoji and wide characters take the cells the layout gave them.
type measure struct {
	cells    func(string) int
	cut      func(string, int, string) string
	wrapText func(string, int, string) string
}

var (
	wcMeasure       = measure{ansi.StringWidthWc, ansi.TruncateWc, ansi.WrapWc}
	graphemeMeasure = measure{ansi.StringWidth, ansi.Truncate, ansi.Wrap}
)

// fit makes the plain string s exactly w cells wide.
func (ms measure) fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ms.cells(s) > w {
		s = ms.cut(s, w, "…")
	}
	return s + strings.Repeat(" ", max(w-ms.cells(s), 0))
}

var (
	styleSelected = lipgloss.NewStyle().Reverse(true)
	styleFaint    = lipgloss.NewStyle().Faint(true)
	styleBold     = lipgloss.NewStyle().Bold(true)
	styleWarn     = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("1"))
	styleOK       = lipgloss.NewStyle().Foreground(lipgloss.Color("2"))
	styleMe       = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("4"))
	stylePeer     = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("5"))
	styleHelp     = lipgloss.NewStyle().Reverse(true)
)

// line is one screen line of a pane: plain text and how to style it.
type line struct {
	text  string
	style *lipgloss.Style
	// prefix is drawn in prefixStyle before text (a message's time and
	// sender); its width counts.
	prefix      string
	prefixStyle *lipgloss.Style
}

// render draws the line exactly w cells wide.
func (ms measure) render(l line, w int) string {
	pw := min(ms.cells(l.prefix), w)
	out := ms.fit(l.prefix, pw)
	if l.prefixStyle != nil {
		out = l.prefixStyle.Render(out)
	}
	text := ms.fit(l.text, w-pw)
	if l.style != nil {
		text = l.style.Render(text)
	}
	return out + text
}

// minWidth and minHeight are the smallest window the chat draws in.
const minWidth, minHeight = 24, 7

// View draws the screen.
func (m *Model) View() tea.View {
	var v tea.View
	v.AltScreen = true
	if !m.cfg.NoMouse {
		v.MouseMode = tea.MouseModeCellMotion
	}
	if m.quitting {
		return v
	}
	v.SetContent(m.screen())
	if m.focus == focusComposer && m.width >= minWidth && m.height >= minHeight {
		if c := m.composer.Cursor(); c != nil {
			c.X += m.width - m.chatWidth()
			c.Y = m.bodyHeight() - 1
			v.Cursor = c
		}
	}
	return v
}

// screen is the whole screen as text.
func (m *Model) screen() string {
	if m.width < minWidth || m.height < minHeight {
		return m.fit("too small", max(m.width, 1))
	}
	lw, bh, rw := m.listWidth(), m.bodyHeight(), m.chatWidth()
	left := m.listLines(bh)
	right := m.chatLines(bh, rw)
	var b strings.Builder
	sep := styleFaint.Render("│")
	for i := range bh {
		if lw > 0 {
			b.WriteString(m.render(left[i], lw))
			b.WriteString(sep)
		}
		b.WriteString(m.render(right[i], rw))
		b.WriteByte('\n')
	}
	b.WriteString(m.render(m.statusLine(), m.width))
	b.WriteByte('\n')
	b.WriteString(m.render(line{text: m.helpText(), style: &styleHelp}, m.width))
	return b.String()
}

// listWidth is the width of the conversation list (0: hidden, too narrow).
func (m *Model) listWidth() int {
	if m.width < 48 {
		return 0
	}
	return min(max(m.width/4, 20), 32)
}

// chatWidth is the width of the right pane, right of the list and its
// separator.
func (m *Model) chatWidth() int {
	if lw := m.listWidth(); lw > 0 {
		return m.width - lw - 1
	}
	return m.width
}

// bodyHeight is the height of the panes, above the status and help lines.
func (m *Model) bodyHeight() int { return m.height - 2 }

// chatHeight is how many lines of messages the right pane shows.
func (m *Model) chatHeight() int { return m.bodyHeight() - 4 }

// layoutComposer fits the composer to the right pane.
func (m *Model) layoutComposer() {
	rw := m.chatWidth()
	m.composer.SetWidth(max(rw-ansi.StringWidth(m.composer.Prompt)-1, 1))
}

// listLines draws the conversation list: requests first, then contacts and
// groups, each with its unread count.
func (m *Model) listLines(h int) []line {
	out := make([]line, 0, h)
	m.listRows = m.listRows[:0]
	title := "Chats"
	if m.focus == focusList {
		title = "Chats ▸"
	}
	out = append(out, line{text: title, style: &styleBold})
	last := kind(-1)
	top := 0
	rows := h - 1
	if m.sel >= rows-3 { // keep the selection in view
		top = m.sel - (rows - 3)
	}
	for i := top; i < len(m.convs) && len(out) < h; i++ {
		c := m.convs[i]
		if c.kind != last && c.kind == kindRequest {
			out = append(out, line{text: "Requests", style: &styleWarn})
		} else if c.kind != last && last == kindRequest {
			out = append(out, line{text: "Conversations", style: &styleFaint})
		}
		last = c.kind
		if len(out) >= h {
			break
		}
		for len(m.listRows) < len(out) {
			m.listRows = append(m.listRows, -1)
		}
		m.listRows = append(m.listRows, i)
		out = append(out, m.listEntry(c, i == m.sel))
	}
	for len(out) < h {
		out = append(out, line{})
	}
	return out
}

func (m *Model) listEntry(c conv, selected bool) line {
	mark := " "
	switch {
	case c.changed:
		mark = "!"
	case c.kind == kindRequest:
		mark = "?"
	case c.kind == kindGroup:
		mark = "#"
	case c.verified:
		mark = "✓"
	}
	text := mark + " " + safetext.Line(c.label())
	if c.unread > 0 {
		text += fmt.Sprintf(" (%d)", c.unread)
	}
	l := line{text: text}
	switch {
	case selected && m.open != nil && m.open.id == c.id:
		l.style = &styleSelected
	case m.open != nil && m.open.id == c.id:
		l.style = &styleBold
	case selected:
		l.style = &styleSelected
	case c.changed:
		l.style = &styleWarn
	case c.unread > 0:
		l.style = &styleBold
	}
	return l
}

// chatLines draws the right pane: the header, the messages and notes, the
// composer.
func (m *Model) chatLines(h, w int) []line {
	out := make([]line, 0, h)
	out = append(out, m.headerLines(w)...)
	out = append(out, line{text: strings.Repeat("─", w), style: &styleFaint})
	body := h - len(out) - 2
	lines := m.messageLines(w)
	end := len(lines) - min(m.scroll, max(len(lines)-body, 0))
	m.scroll = len(lines) - end
	start := max(end-body, 0)
	for i := 0; i < body-(end-start); i++ {
		out = append(out, line{})
	}
	out = append(out, lines[start:end]...)
	rule := strings.Repeat("─", w)
	if m.scroll > 0 {
		label := fmt.Sprintf("── %d more lines below (PgDn) ", m.scroll)
		rule = m.fit(label+strings.Repeat("─", max(w-m.cells(label), 0)), w)
	}
	out = append(out, line{text: rule, style: &styleFaint})
	out = append(out, m.composerLine())
	return out
}

// headerLines is the open conversation's title line: its name and ID, and
// whether the contact's safety number was verified or changed.
func (m *Model) headerLines(w int) []line {
	c := m.open
	if c == nil {
		return []line{{text: "No conversation open: pick one on the left (↑/↓, Enter), or /open ID.", style: &styleFaint}}
	}
	name := safetext.Line(c.label())
	switch c.kind {
	case kindGroup:
		text := fmt.Sprintf("# %s (%d members)", name, c.members)
		if !c.member {
			text += " — you are no longer a member"
		}
		return []line{{text: text, style: &styleBold}}
	case kindRequest:
		return []line{{prefix: c.id + " ", prefixStyle: &styleBold, text: "MESSAGE REQUEST: /accept to talk, /block to refuse", style: &styleWarn}}
	}
	title := c.id
	if c.name != "" {
		title = name + " · " + c.id
	}
	h := m.header
	switch {
	case h.changed:
		return []line{{prefix: title + " ", prefixStyle: &styleBold, text: "! NEW SAFETY NUMBER: nothing is sent until you /verify", style: &styleWarn}}
	case h.noKey:
		return []line{{prefix: title + " ", prefixStyle: &styleBold, text: "(no keys exchanged yet)", style: &styleFaint}}
	case h.unverified:
		return []line{{prefix: title + " ", prefixStyle: &styleBold, text: "unverified: compare safety numbers with /verify", style: &styleWarn}}
	}
	return []line{{prefix: title + " ", prefixStyle: &styleBold, text: "✓ verified", style: &styleOK}}
}

// messageLines draws the open conversation's messages and notes, wrapped
// to w: each message starts at the left edge with its time and sender,
// its further lines are indented, so no text can pass for another message.
func (m *Model) messageLines(w int) []line {
	var out []line
	j := 0
	flush := func(upto int64, all bool) {
		for ; j < len(m.notes) && (all || m.notes[j].after < upto); j++ {
			n := m.notes[j]
			st := &styleFaint
			if n.warn {
				st = &styleWarn
			}
			out = append(out, m.wrapped("* ", nil, n.text, st, w)...)
		}
	}
	for _, msg := range m.msgs {
		flush(msg.LocalID, false)
		out = append(out, m.messageBlock(msg, w)...)
	}
	flush(0, true)
	return out
}

// messageBlock is one message, wrapped.
func (m *Model) messageBlock(msg client.Message, w int) []line {
	at := msg.ReceivedAt // the sender's clock is theirs to set
	who, st := m.nameOf(msg.From), &stylePeer
	if msg.Outgoing {
		at, st = msg.SentAt, &styleMe
	}
	prefix := at.In(m.loc).Format("15:04") + " " + safetext.Line(who) + ": "
	text := msg.Text // made inert line by line in wrapped (safetext.Lines)
	var style *lipgloss.Style
	switch msg.Kind {
	case client.KindTimer:
		text, style = "set the disappearing timer to "+timerText(msg.Timer), &styleFaint
	case client.KindGroup:
		text, style = groupText(msg), &styleFaint
	case client.KindDevices:
		style = &styleFaint
	}
	if msg.Kind == client.KindText {
		text = m.decorate(msg, text) // the quote before, reactions and "edited" after the text or caption
	}
	if len(msg.Attachments) > 0 {
		files := strings.Join(attachmentLines(msg.Attachments), "\n")
		if text != "" {
			files = text + "\n" + files
		}
		text = files
	}
	if msg.Outgoing && msg.Kind == client.KindText {
		text += "  (" + msg.State.String() + ")"
	}
	if !msg.ExpiresAt.IsZero() {
		text += " ⏱"
	}
	return m.wrapped(prefix, st, text, style, w)
}

// wrapped lays out a prefix and a text of several lines in width w:
// continuation lines are indented by two cells.
func (m *Model) wrapped(prefix string, pst *lipgloss.Style, text string, st *lipgloss.Style, w int) []line {
	var out []line
	first := true
	for _, para := range safetext.Lines(strings.ReplaceAll(text, "\t", "    ")) {
		indent := "  "
		if first {
			indent = prefix
		}
		avail := max(w-m.cells(indent), 1)
		for _, l := range strings.Split(m.wrapText(para, avail, ""), "\n") {
			if first {
				out = append(out, line{prefix: indent, prefixStyle: pst, text: l, style: st})
				first = false
			} else {
				out = append(out, line{prefix: "  ", text: l, style: st})
			}
			indent = "  "
			avail = max(w-2, 1)
		}
	}
	return out
}

func (m *Model) composerLine() line {
	switch {
	case m.focus == focusComposer:
	case m.open == nil:
		return line{text: "> (Tab, then /open ID or /help)", style: &styleFaint}
	default:
		return line{text: "> (Tab or Enter to write)", style: &styleFaint}
	}
	return line{text: m.composer.View()}
}

func (m *Model) statusLine() line {
	state := "offline"
	if m.online {
		state = "online"
	}
	text := m.self + " · " + state
	if t := m.typingLine(); t != "" && m.status == "" {
		return line{prefix: text + " · ", prefixStyle: &styleFaint, text: t, style: &styleOK}
	}
	if m.status != "" {
		return line{prefix: text + " · ", prefixStyle: &styleFaint, text: safetext.Line(m.status), style: &styleWarn}
	}
	return line{text: text, style: &styleFaint}
}

func (m *Model) helpText() string {
	if m.focus == focusList {
		return " ↑/↓ choose · Enter open · Tab write · PgUp/PgDn scroll · q quit"
	}
	return " Enter send · /help · Esc list · ^N/^P chats · PgUp/PgDn scroll · ^C quit"
}

// timerText writes a disappearing timer in its largest whole unit.
func timerText(d time.Duration) string {
	if d <= 0 {
		return "off"
	}
	units := []struct {
		d    time.Duration
		name string
	}{{7 * 24 * time.Hour, "w"}, {24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}}
	for _, u := range units {
		if d%u.d == 0 {
			return fmt.Sprint(int64(d/u.d)) + u.name
		}
	}
	return d.String()
}

// groupText says in words what a group notice reports.
func groupText(msg client.Message) string {
	ch := msg.Change
	if ch == nil {
		return "changed the group"
	}
	var parts []string
	add := func(what string, ids []string) {
		if len(ids) > 0 {
			parts = append(parts, what+" "+strings.Join(ids, ", "))
		}
	}
	if ch.Joined {
		parts = append(parts, "made the group "+safetext.Line(ch.Name))
	}
	add("added", ch.Added)
	add("removed", ch.Removed)
	add("left:", ch.Left)
	add("made admin", ch.AdminsAdded)
	add("removed as admin", ch.AdminsRemoved)
	if ch.Renamed {
		parts = append(parts, "renamed the group to "+safetext.Line(ch.Name))
	}
	if ch.TimerChanged {
		parts = append(parts, "set the disappearing timer to "+timerText(ch.Timer))
	}
	switch {
	case ch.LinkChanged && ch.InviteLink:
		parts = append(parts, "made a new invite link")
	case ch.LinkChanged:
		parts = append(parts, "revoked the invite link")
	}
	if len(ch.JoinRequests) > 0 {
		parts = append(parts, "asks to join with the invite link (/group approve ID, or deny)")
	}
	if len(parts) == 0 {
		return "changed the group"
	}
	return strings.Join(parts, "; ")
}
