package tui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/skymsg/sky/client"
)

// Replies, reactions, edits and deletion for everyone as composer commands
// (carried out by sky reply/react/edit/unsend), what they made of a
// message shown under it, profile names in the list, and typing
// indicators: shown while they last, and sent as the user types when the
// backend can (Typist) and the user turned them on.

// actionHelp is what /help adds about them.
var actionHelp = []string{ // the lines /reply … without arguments show
	"  /reply N TEXT           reply to message N (1: the last one; or the start of its ID)",
	"  /react N [EMOJI]        react to message N (no emoji: remove yours)",
	"  /edit N TEXT            replace the text of your message N (within 24 hours)",
	"  /unsend N               delete your message N for everyone (within 24 hours)",
}

// Typist is what a backend offers to send typing indicators (the client
// sends nothing unless the user turned them on).
type Typist interface {
	Typing(conv string, on bool) error
}

// Namer is what a backend offers to name people by their profiles.
type Namer interface {
	Names() (map[string]client.Name, error)
}

// isAction reports whether name is one of the action commands.
func isAction(name string) bool {
	return slices.Contains([]string{"/reply", "/react", "/edit", "/unsend"}, name)
}

// actionCommand carries out /reply, /react, /edit or /unsend in the open
// conversation.
func (m *Model) actionCommand(name string, args []string) tea.Cmd {
	c := m.open
	need := map[string]int{"/reply": 2, "/react": 1, "/edit": 2, "/unsend": 1}[name]
	if len(args) < need {
		return m.refuse(actionHelp[slices.IndexFunc(actionHelp, func(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), name+" ") })])
	}
	msg, err := m.pick(args[0])
	if err != nil {
		return m.refuse(err.Error())
	}
	cmd := []string{strings.TrimPrefix(name, "/"), c.id, msg.ID}
	if rest := strings.Join(args[1:], " "); rest != "" {
		cmd = append(cmd, rest)
	}
	return m.run(cmd)
}

// pick finds the message ref names in the open conversation: N (up to
// three digits), the N-th text from the end (1: the last), or the start of
// a message's ID (at least 4 hex digits, naming exactly one).
func (m *Model) pick(ref string) (client.Message, error) {
	var texts []client.Message
	for _, msg := range m.msgs {
		if msg.Kind == client.KindText {
			texts = append(texts, msg)
		}
	}
	if n, err := strconv.Atoi(ref); err == nil && len(ref) <= 3 {
		if n < 1 || n > len(texts) {
			return client.Message{}, fmt.Errorf("there is no message %d here: 1 is the last one, %d the first shown", n, len(texts))
		}
		return texts[len(texts)-n], nil
	}
	ref = strings.ToLower(ref)
	var found []client.Message
	for _, msg := range texts {
		if len(ref) >= 4 && strings.HasPrefix(msg.ID, ref) {
			found = append(found, msg)
		}
	}
	if len(found) != 1 {
		return client.Message{}, fmt.Errorf("%q names %d messages: give N (1 is the last message) or more of its ID", ref, len(found))
	}
	return found[0], nil
}

// decorate adds to a message's text what actions made of it: the message
// it quotes (a line before), the reactions and "edited" (after).
func (m *Model) decorate(msg client.Message, text string) string {
	if q := msg.Quote; q != nil {
		quoted := "original message not available"
		if !q.Missing {
			quoted = m.nameOf(q.From) + ": " + strings.ReplaceAll(q.Excerpt, "\n", " ")
		}
		text = "↪ " + quoted + "\n" + text
	}
	if !msg.EditedAt.IsZero() {
		text += " (edited)"
	}
	if len(msg.Reactions) > 0 {
		var order []string
		count := map[string]int{}
		for _, r := range msg.Reactions {
			if count[r.Emoji] == 0 {
				order = append(order, r.Emoji)
			}
			count[r.Emoji]++
		}
		var parts []string
		for _, e := range order {
			if count[e] > 1 {
				e += strconv.Itoa(count[e])
			}
			parts = append(parts, e)
		}
		text += " [" + strings.Join(parts, " ") + "]"
	}
	return text
}

// profileName is what the list calls a contact without a nickname: "~"
// and their profile's name (marked when it equals another's), or "".
func (m *Model) profileNames() map[string]client.Name {
	n, ok := m.b.(Namer)
	if !ok {
		return nil
	}
	names, err := n.Names()
	if err != nil {
		return nil
	}
	return names
}

// typingMsg redraws when an indicator runs out.
type typingMsg struct{}

// noteTyping records an indicator and asks for a redraw when it runs out.
func (m *Model) noteTyping(e *client.TypingEvent) tea.Cmd {
	conv := e.Group
	if conv == "" {
		conv = e.Peer
	}
	if m.typing == nil {
		m.typing = map[string]map[string]time.Time{}
	}
	if !e.Typing {
		delete(m.typing[conv], e.Peer)
		return nil
	}
	if m.typing[conv] == nil {
		m.typing[conv] = map[string]time.Time{}
	}
	m.typing[conv][e.Peer] = e.Until
	return tea.Tick(e.Until.Sub(m.now())+10*time.Millisecond, func(time.Time) tea.Msg { return typingMsg{} })
}

// typingLine says who is typing in the open conversation ("" for nobody).
func (m *Model) typingLine() string {
	if m.open == nil {
		return ""
	}
	now := m.now()
	var who []string
	for peer, until := range m.typing[m.open.id] {
		if now.Before(until) {
			who = append(who, m.nameOf(peer))
		}
	}
	slices.Sort(who)
	switch len(who) {
	case 0:
		return ""
	case 1:
		return who[0] + " is typing…"
	}
	return strings.Join(who, ", ") + " are typing…"
}

// typed tells the open conversation the user is typing (or stopped: on
// false), in the background; the client holds to its own rate limit.
func (m *Model) typed(on bool) tea.Cmd {
	t, ok := m.b.(Typist)
	if !ok || m.open == nil || m.open.kind == kindRequest || m.open.transient {
		return nil
	}
	if on == m.typingSent && !on {
		return nil
	}
	m.typingSent = on
	id := m.open.id
	return func() tea.Msg {
		t.Typing(id, on) // best effort: an indicator is worth nothing later
		return nil
	}
}
