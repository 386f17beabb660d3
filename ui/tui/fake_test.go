package tui

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/skymsg/sky/client"
)

// t0 is the fake clock's time.
var t0 = time.Date(2026, 12, 6, 21, 30, 0, 0, time.UTC)

const (
	self  = "me23456789"
	alice = "a23456789b"
	bob   = "b23456789c"
	carol = "c23456789d"
	grp   = "0123456789abcdef0123456789abcdef"
)

// fakeBackend is a client with its data in memory.
type fakeBackend struct {
	contacts []client.Contact
	requests []client.Request
	groups   []client.Group
	msgs     map[string][]client.Message
	changed  map[string]bool // a new key waits
	sent     []client.Message
	read     []int64
	nextID   int64
}

func newFake() *fakeBackend {
	return &fakeBackend{msgs: map[string][]client.Message{}, changed: map[string]bool{}, nextID: 100}
}

func (f *fakeBackend) ID() string                          { return self }
func (f *fakeBackend) Contacts() ([]client.Contact, error) { return f.contacts, nil }
func (f *fakeBackend) Requests() ([]client.Request, error) { return f.requests, nil }
func (f *fakeBackend) Groups() ([]client.Group, error)     { return f.groups, nil }

func (f *fakeBackend) History(conv string, limit int) ([]client.Message, error) {
	ms := f.msgs[conv]
	if limit > 0 && len(ms) > limit {
		ms = ms[len(ms)-limit:]
	}
	return slices.Clone(ms), nil
}

func (f *fakeBackend) Unread() ([]client.Message, error) {
	var out []client.Message
	for _, ms := range f.msgs {
		for _, m := range ms {
			if !m.Outgoing && m.ReadAt.IsZero() {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

func (f *fakeBackend) MarkRead(ids ...int64) ([]client.Message, error) {
	f.read = append(f.read, ids...)
	var out []client.Message
	for conv, ms := range f.msgs {
		for i, m := range ms {
			if slices.Contains(ids, m.LocalID) && m.ReadAt.IsZero() {
				f.msgs[conv][i].ReadAt = t0
				out = append(out, m)
			}
		}
	}
	return out, nil
}

func (f *fakeBackend) Send(peer, text string) (client.Message, error) {
	if !client.ValidID(peer) {
		return client.Message{}, client.ErrInvalidID
	}
	return f.add(client.Message{Conversation: peer, From: self, Outgoing: true, Kind: client.KindText, Text: text, SentAt: t0, State: client.Pending}), nil
}

func (f *fakeBackend) SendGroup(ref, text string) (client.Message, error) {
	return f.add(client.Message{Conversation: ref, Group: ref, From: self, Outgoing: true, Kind: client.KindText, Text: text, SentAt: t0, State: client.Pending}), nil
}

func (f *fakeBackend) SafetyNumber(peer string) (client.SafetyNumber, error) {
	for _, c := range f.contacts {
		if c.ID == peer {
			return client.SafetyNumber{Peer: peer, Verified: c.Verified, Changed: f.changed[peer]}, nil
		}
	}
	if _, ok := f.msgs[peer]; ok {
		return client.SafetyNumber{Peer: peer}, nil
	}
	return client.SafetyNumber{}, errors.New("no key yet")
}

// add stores a message and returns it with its LocalID and ID.
func (f *fakeBackend) add(m client.Message) client.Message {
	f.nextID++
	m.LocalID = f.nextID
	if m.ID == "" {
		m.ID = fmt.Sprintf("%032x", f.nextID)
	}
	f.msgs[m.Conversation] = append(f.msgs[m.Conversation], m)
	if m.Outgoing {
		f.sent = append(f.sent, m)
	}
	return m
}

// incoming stores a message from peer in conv at minute min past t0.
func (f *fakeBackend) incoming(conv, from, text string, min int) client.Message {
	at := t0.Add(time.Duration(min) * time.Minute)
	return f.add(client.Message{Conversation: conv, From: from, Kind: client.KindText, Text: text, SentAt: at, ReceivedAt: at, State: client.Received})
}

// world is a fake backend with contacts, a request and a group.
func world() *fakeBackend {
	f := newFake()
	f.contacts = []client.Contact{{ID: alice, Name: "alice", Verified: true}, {ID: bob, Name: "bob"}}
	f.requests = []client.Request{{ID: carol, FirstAt: t0, Messages: 1}}
	f.groups = []client.Group{{ID: grp, Name: "team", Members: []string{self, alice, bob}, Member: true}}
	f.incoming(alice, alice, "hi there", 0)
	f.add(client.Message{Conversation: alice, From: self, Outgoing: true, Kind: client.KindText, Text: "hello alice", SentAt: t0.Add(time.Minute), State: client.Read})
	f.incoming(alice, alice, "how are you?", 2)
	f.incoming(carol, carol, "hello, we have not met", 3)
	f.msgs[carol][0].Request = true
	f.incoming(grp, bob, "team meeting at 10", 4)
	f.msgs[grp][0].Group = grp
	f.sent = nil
	return f
}

// harness drives a Model as Bubble Tea would: each message through Update,
// the commands it returns run and their messages fed back (a command still
// running after a moment, such as waiting for the next event or a timer,
// is left behind).
type harness struct {
	t *testing.T
	m *Model
	f *fakeBackend
}

func newHarness(t *testing.T, f *fakeBackend, cfg Config, w, h int) *harness {
	t.Helper()
	return newHarnessWith(t, f, cfg, w, h)
}

// newHarnessWith is newHarness with cfg.Backend (a fake wrapping f) set.
func newHarnessWith(t *testing.T, b Backend, cfg Config, w, h int) *harness {
	t.Helper()
	f := fakeOf(b)
	cfg.Backend = b
	cfg.Now = func() time.Time { return t0.Add(10 * time.Minute) }
	cfg.Location = time.UTC
	hs := &harness{t: t, m: New(cfg), f: f}
	hs.do(hs.m.Init())
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	return hs
}

func (hs *harness) send(msg tea.Msg) {
	_, cmd := hs.m.Update(msg)
	hs.m.View() // Bubble Tea draws after each update
	hs.do(cmd)
}

func (hs *harness) do(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	select {
	case msg := <-done:
		switch msg := msg.(type) {
		case nil:
		case tea.BatchMsg:
			for _, c := range msg {
				hs.do(c)
			}
		case tea.QuitMsg:
		default:
			hs.send(msg)
		}
	case <-time.After(50 * time.Millisecond):
	}
}

// fakeOf is the fakeBackend inside b.
func fakeOf(b Backend) *fakeBackend {
	switch b := b.(type) {
	case *fakeBackend:
		return b
	case *fakeFiles:
		return b.fakeBackend
	case *socialFake:
		return b.fakeBackend
	}
	panic("not a fake backend")
}

// typeText types s into the focused part, key by key, then Enter.
func (hs *harness) typeLine(s string) {
	for _, r := range s {
		hs.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	hs.key(tea.KeyEnter)
}

func (hs *harness) key(code rune, mods ...tea.KeyMod) {
	k := tea.KeyPressMsg{Code: code}
	for _, mod := range mods {
		k.Mod |= mod
	}
	hs.send(k)
}

// screen is the drawn screen without styles.
func (hs *harness) screen() string {
	return ansi.Strip(hs.m.View().Content)
}
