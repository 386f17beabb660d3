// Package tui is Sky's terminal chat (sky tui): conversations with their
// unread counts and message requests on the left, the open conversation on
// the right, a composer at the bottom and a help bar with the key bindings.
//
// It is a Bubble Tea model over a narrow interface to the client (Backend),
// fed with the client's events (messages, receipts, key changes, group and
// timer changes, the connection). Composer commands such as /verify or
// /timer are carried out by sky's own commands (Config.Run), so they say and
// do exactly what the command line does.
//
// Everything a peer chooses (message texts, group names, and what commands
// print about them) is drawn inert by package safetext: control
// characters, escape sequences and bidirectional overrides are shown as
// visible escapes (\x1b, \u202e), never passed to the terminal.
package tui

import (
	"context"
	"strings"
	"time"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/skymsg/sky/client"
)

// Backend is what the chat needs from the client; *client.Client has it.
type Backend interface {
	ID() string
	Contacts() ([]client.Contact, error)
	Requests() ([]client.Request, error)
	Groups() ([]client.Group, error)
	History(conv string, limit int) ([]client.Message, error)
	Unread() ([]client.Message, error)
	MarkRead(localIDs ...int64) ([]client.Message, error)
	Send(peer, text string) (client.Message, error)
	SendGroup(ref, text string) (client.Message, error)
	SafetyNumber(peer string) (client.SafetyNumber, error)
}

// RunFunc runs one of sky's commands (args as on its command line, without
// "sky") on the chat's client and returns what it printed; err is set when
// the command failed (its message is then in out too, or in err).
type RunFunc func(args []string) (out string, err error)

// Config is what New needs.
type Config struct {
	Backend Backend
	// Events are the client's events (client.Subscription.Events); nil
	// means no live updates.
	Events <-chan client.Event
	// Run carries out the composer's commands; nil disables them.
	Run RunFunc
	// Open is a conversation to open at the start: a Sky ID, a contact's
	// nickname, or a group's ID or name.
	Open string
	// Now and Location are the clock and the time zone messages are shown
	// in (time.Now and time.Local when nil).
	Now      func() time.Time
	Location *time.Location
	// NoMouse turns off mouse reporting (clicks and the wheel).
	NoMouse bool
	// Context bounds the chat's background work (uploads, downloads);
	// context.Background() when nil.
	Context context.Context
}

// historyLimit is how many messages of a conversation are shown.
const historyLimit = 500

// focus is which part of the screen takes the keys.
type focus int

const (
	focusList focus = iota
	focusComposer
)

// Model is the chat's Bubble Tea model.
type Model struct {
	cfg  Config
	b    Backend
	self string
	now  func() time.Time
	loc  *time.Location
	measure

	width, height int
	focus         focus

	convs  []conv
	sel    int   // the selected entry of convs
	open   *conv // the open conversation, nil when none
	header header
	msgs   []client.Message
	notes  []note
	scroll int // lines scrolled up from the newest

	listRows []int // the conversation drawn on each row of the list (-1: none), for clicks

	composer textinput.Model
	status   string // the last failure or notice, one line
	online   bool
	tickGen  int
	quitting bool

	typing     map[string]map[string]time.Time // conversation -> peer -> until (social.go)
	typingSent bool                            // the user's last indicator said "typing"
}

// note is a line the chat adds to the open conversation (what a command
// printed, a key change, a failure), shown after the message whose LocalID
// is after (before every message when 0).
type note struct {
	after int64
	text  string
	warn  bool
}

// New returns the chat's model.
func New(cfg Config) *Model {
	m := &Model{cfg: cfg, b: cfg.Backend, self: cfg.Backend.ID(), now: cfg.Now, loc: cfg.Location, measure: wcMeasure}
	if m.now == nil {
		m.now = time.Now
	}
	if m.loc == nil {
		m.loc = time.Local
	}
	m.composer = textinput.New()
	m.composer.Prompt = "> "
	m.composer.SetVirtualCursor(false)
	m.composer.CharLimit = 16 << 10
	m.composer.KeyMap.Paste.SetEnabled(false) // the terminal's own paste arrives as a PasteMsg
	if c, ok := cfg.Backend.(interface{ Connected() bool }); ok {
		m.online = c.Connected() // later changes come as events
	}
	m.reload()
	m.scanKeys()
	if cfg.Open != "" {
		c, err := m.resolve(cfg.Open)
		if err != nil {
			m.status = err.Error()
		} else {
			m.openConv(c)
			m.focusComposer()
		}
	}
	return m
}

// Init starts listening to the client's events.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.waitEvent(), m.expiryTick())
}

// eventMsg carries one client event; eventsClosed says the client closed.
type (
	eventMsg     struct{ ev client.Event }
	eventsClosed struct{}
	expiryMsg    struct{ gen int }
	ranMsg       struct {
		conv string
		out  string
		err  error
		args []string
	}
)

func (m *Model) waitEvent() tea.Cmd {
	ch := m.cfg.Events
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return eventsClosed{}
		}
		return eventMsg{ev}
	}
}

// Update handles keys, the mouse, resizes, events and finished commands.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layoutComposer()
	case tea.ModeReportMsg:
		if msg.Mode == ansi.ModeUnicodeCore && (msg.Value == ansi.ModeReset || msg.Value == ansi.ModeSet || msg.Value == ansi.ModePermanentlySet) {
			m.measure = graphemeMeasure // the renderer now counts graphemes too
		}
	case tea.KeyPressMsg:
		return m, m.key(msg)
	case tea.PasteMsg:
		if m.focus == focusComposer {
			var cmd tea.Cmd
			m.composer, cmd = m.composer.Update(msg)
			return m, cmd
		}
	case tea.MouseClickMsg:
		return m, m.click(msg.Mouse())
	case tea.MouseWheelMsg:
		switch msg.Mouse().Button {
		case tea.MouseWheelUp:
			m.scrollBy(3)
		case tea.MouseWheelDown:
			m.scrollBy(-3)
		}
	case eventMsg:
		return m, tea.Batch(m.event(msg.ev), m.waitEvent())
	case eventsClosed:
		m.status = "the client stopped; press ctrl+c to leave"
		m.online = false
	case expiryMsg:
		if msg.gen == m.tickGen {
			return m, m.expire()
		}
	case ranMsg:
		return m, m.ran(msg)
	case fileMsg:
		return m, m.fileSent(msg)
	case savedMsg:
		m.saved(msg)
	case typingMsg: // redrawn
	}
	return m, nil
}

// key handles a key press.
func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "ctrl+c", "ctrl+d":
		m.quitting = true
		return tea.Quit
	case "tab":
		if m.focus == focusList {
			return m.focusComposer()
		}
		m.focusList()
		return nil
	case "esc":
		m.focusList()
		return nil
	case "ctrl+n", "alt+down":
		m.openNext(1)
		return m.focusComposer()
	case "ctrl+p", "alt+up":
		m.openNext(-1)
		return m.focusComposer()
	case "pgup", "ctrl+u":
		m.scrollBy(m.chatHeight() / 2)
		return nil
	case "pgdown", "ctrl+f":
		m.scrollBy(-m.chatHeight() / 2)
		return nil
	}
	if m.focus == focusList {
		switch k.String() {
		case "up", "k":
			m.moveSel(-1)
		case "down", "j":
			m.moveSel(1)
		case "enter", "right", "l":
			if m.sel < len(m.convs) {
				m.openConv(m.convs[m.sel])
				return m.focusComposer()
			}
		case "q":
			m.quitting = true
			return tea.Quit
		}
		return nil
	}
	if k.String() == "enter" {
		return tea.Batch(m.submit(), m.typed(false))
	}
	var cmd tea.Cmd
	m.composer, cmd = m.composer.Update(k)
	v := m.composer.Value()
	return tea.Batch(cmd, m.typed(v != "" && !strings.HasPrefix(v, "/")))
}

// click opens the conversation clicked in the list, or puts the focus in
// the composer when the right pane is clicked.
func (m *Model) click(p tea.Mouse) tea.Cmd {
	lw := m.listWidth()
	switch {
	case p.Y >= m.bodyHeight():
		return nil
	case p.X < lw:
		if p.Y < len(m.listRows) && m.listRows[p.Y] >= 0 {
			m.openConv(m.convs[m.listRows[p.Y]])
			return m.focusComposer()
		}
	default:
		return m.focusComposer()
	}
	return nil
}

func (m *Model) focusComposer() tea.Cmd {
	m.focus = focusComposer
	return m.composer.Focus()
}

func (m *Model) focusList() {
	m.focus = focusList
	m.composer.Blur()
}

func (m *Model) moveSel(d int) {
	if len(m.convs) == 0 {
		return
	}
	m.sel = min(max(m.sel+d, 0), len(m.convs)-1)
}

// openNext opens the conversation d entries after the open one.
func (m *Model) openNext(d int) {
	if len(m.convs) == 0 {
		return
	}
	i := m.sel
	if m.open != nil {
		i = m.index(m.open.id) + d
	}
	i = (i + len(m.convs)) % len(m.convs)
	m.openConv(m.convs[i])
}

func (m *Model) scrollBy(n int) {
	m.scroll = max(m.scroll+n, 0) // the view clamps the top
}

// submit sends the composer's line, or carries out its command.
func (m *Model) submit() tea.Cmd {
	line := strings.TrimSpace(m.composer.Value())
	if line == "" {
		return nil
	}
	m.composer.Reset()
	if strings.HasPrefix(line, "/") && !strings.HasPrefix(line, "//") {
		return m.command(line)
	}
	if m.open == nil {
		return m.refuse("open a conversation first: pick one on the left, or /open ID")
	}
	line = strings.TrimPrefix(line, "/") // "//x" sends "/x"
	var sent client.Message
	var err error
	if m.open.kind == kindGroup {
		sent, err = m.b.SendGroup(m.open.id, line)
	} else {
		sent, err = m.b.Send(m.open.id, line)
	}
	if err != nil {
		m.addNote("not sent: "+err.Error(), true)
		return nil
	}
	m.msgs = append(m.msgs, sent)
	m.scroll = 0
	if m.open.transient { // a first message makes them a contact
		m.reload()
	}
	return m.expiryTick()
}

// addNote adds lines to the right pane: to the open conversation, or on
// their own when none is open.
func (m *Model) addNote(text string, warn bool) {
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		m.notes = append(m.notes, note{after: m.lastLocalID(), text: l, warn: warn})
	}
	m.scroll = 0
}

// lastLocalID is the largest LocalID shown, where a new note goes.
func (m *Model) lastLocalID() int64 {
	var id int64
	for _, msg := range m.msgs {
		id = max(id, msg.LocalID)
	}
	return id
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

// expiryTick wakes the model when the next shown message disappears.
func (m *Model) expiryTick() tea.Cmd {
	var next time.Time
	for _, msg := range m.msgs {
		if e := msg.ExpiresAt; !e.IsZero() && (next.IsZero() || e.Before(next)) {
			next = e
		}
	}
	if next.IsZero() {
		return nil
	}
	m.tickGen++
	gen := m.tickGen
	return tea.Tick(max(next.Sub(m.now()), 0)+10*time.Millisecond, func(time.Time) tea.Msg { return expiryMsg{gen} })
}

// expire drops the messages whose timer ran out.
func (m *Model) expire() tea.Cmd {
	now := m.now()
	kept := m.msgs[:0]
	for _, msg := range m.msgs {
		if msg.ExpiresAt.IsZero() || msg.ExpiresAt.After(now) {
			kept = append(kept, msg)
		}
	}
	m.msgs = kept
	return m.expiryTick()
}
