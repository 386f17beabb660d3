package tui

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/ui/safetext"
)

// kind is what a conversation is.
type kind int

const (
	kindRequest kind = iota // a message request: someone who is not a contact
	kindContact
	kindGroup
)

// conv is one entry of the conversation list.
type conv struct {
	id      string // the peer's Sky ID, or the group's ID
	name    string // the contact's nickname or the group's name; may be empty
	kind    kind
	unread  int
	members int  // groups: how many
	member  bool // groups: the user is still a member
	// verified: the user compared the contact's safety number.
	verified bool
	// changed: the peer presented a new identity key this session.
	changed bool
	// transient: opened by ID, not yet a contact (a first message makes
	// them one).
	transient bool
}

// label is how the list and the messages name the conversation.
func (c conv) label() string {
	if c.name != "" {
		return c.name
	}
	return c.id
}

// reload reads the conversation list and the unread counts again; the
// store is the truth.
func (m *Model) reload() {
	var list []conv
	var errs []error
	rs, err := m.b.Requests()
	errs = append(errs, err)
	for _, r := range rs {
		list = append(list, conv{id: r.ID, kind: kindRequest})
	}
	cs, err := m.b.Contacts()
	errs = append(errs, err)
	names := m.profileNames()
	for _, c := range cs {
		name := c.Name
		if n := names[c.ID]; name == "" && n.Profile != "" {
			name = n.Display() // "~" and the name they chose, marked on a clash
		}
		list = append(list, conv{id: c.ID, name: name, kind: kindContact, verified: c.Verified})
	}
	gs, err := m.b.Groups()
	errs = append(errs, err)
	for _, g := range gs {
		list = append(list, conv{id: g.ID, name: g.Name, kind: kindGroup, members: len(g.Members), member: g.Member})
	}
	unread, err := m.b.Unread()
	errs = append(errs, err)
	counts := map[string]int{}
	for _, msg := range unread {
		counts[msg.Conversation]++
	}
	for i := range list {
		list[i].unread = counts[list[i].id]
		if old := m.find(list[i].id); old != nil {
			list[i].changed = old.changed
		}
	}
	slices.SortStableFunc(list, func(a, b conv) int {
		if a.kind != b.kind {
			return cmp.Compare(a.kind, b.kind)
		}
		return cmp.Compare(strings.ToLower(a.label()), strings.ToLower(b.label()))
	})
	if m.open != nil && m.open.transient && !slices.ContainsFunc(list, func(c conv) bool { return c.id == m.open.id }) {
		list = append(list, *m.open)
	}
	selected := ""
	if m.sel < len(m.convs) {
		selected = m.convs[m.sel].id
	}
	m.convs = list
	if m.open != nil {
		if c := m.find(m.open.id); c != nil {
			m.open = c
		}
	}
	m.sel = max(m.index(selected), 0)
	if err := errors.Join(errs...); err != nil {
		m.status = "cannot read the conversations: " + err.Error()
	}
}

// maxKeyScan bounds how many contacts the chat checks for a changed key
// when it starts: each check computes a safety number (10,400 SHA-512
// iterations, a few milliseconds). A contact beyond it shows its key change
// when its chat is opened, and every later change as it happens.
const maxKeyScan = 100

// scanKeys flags the contacts whose new identity key waits for the user's
// decision since before the chat started (later changes come as events).
func (m *Model) scanKeys() {
	n := 0
	for i := range m.convs {
		c := &m.convs[i]
		if c.kind != kindContact || n >= maxKeyScan {
			continue
		}
		n++
		if sn, err := m.b.SafetyNumber(c.id); err == nil && sn.Changed {
			c.changed = true
		}
	}
}

// find returns the list's entry for id, or nil.
func (m *Model) find(id string) *conv {
	if i := m.index(id); i >= 0 {
		return &m.convs[i]
	}
	return nil
}

func (m *Model) index(id string) int {
	return slices.IndexFunc(m.convs, func(c conv) bool { return c.id == id })
}

// resolve finds the conversation ref names: an ID in the list, a contact's
// nickname, a group's name, or else a Sky ID to start a conversation with.
func (m *Model) resolve(ref string) (conv, error) {
	ref = strings.TrimSpace(ref)
	if c := m.find(strings.ToLower(ref)); c != nil {
		return *c, nil
	}
	var found []conv
	for _, c := range m.convs {
		if c.name != "" && strings.EqualFold(c.name, ref) {
			found = append(found, c)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return conv{}, fmt.Errorf("several conversations are called %q; give the ID instead", safetext.Line(ref))
	case client.ValidID(strings.ToLower(ref)):
		return conv{id: strings.ToLower(ref), kind: kindContact, transient: true}, nil
	}
	return conv{}, fmt.Errorf("%q is neither a Sky ID nor the name of a contact or group", safetext.Line(ref))
}

// openConv shows c in the right pane and marks its messages read.
func (m *Model) openConv(c conv) {
	if m.find(c.id) == nil {
		m.convs = append(m.convs, c)
	}
	m.sel = m.index(c.id)
	m.open = &m.convs[m.sel]
	m.notes = nil
	m.scroll = 0
	m.loadOpen()
}

// loadOpen reads the open conversation again: its messages (marking the
// unread ones read) and its header.
func (m *Model) loadOpen() {
	c := m.open
	msgs, err := m.b.History(c.id, historyLimit)
	if err != nil {
		m.status = "cannot read the conversation: " + err.Error()
	}
	m.msgs = msgs
	var unread []int64
	for _, msg := range msgs {
		if !msg.Outgoing && msg.ReadAt.IsZero() {
			unread = append(unread, msg.LocalID)
		}
	}
	m.markRead(unread...)
	c.unread = 0
	m.header = m.readHeader(c)
}

// markRead marks shown messages read and shows them as read (their
// disappearing timers may start now).
func (m *Model) markRead(ids ...int64) {
	if len(ids) == 0 {
		return
	}
	read, err := m.b.MarkRead(ids...)
	if err != nil {
		m.status = "cannot mark the messages read: " + err.Error()
	}
	for _, r := range read {
		if i := slices.IndexFunc(m.msgs, func(x client.Message) bool { return x.LocalID == r.LocalID }); i >= 0 {
			m.msgs[i] = r
		}
	}
}

// header is what the right pane's first line says about the open
// conversation besides its name.
type header struct {
	changed    bool // a new identity key waits for the user's decision
	unverified bool
	noKey      bool // no key known yet (nothing exchanged)
}

func (m *Model) readHeader(c *conv) header {
	if c.kind == kindGroup {
		return header{}
	}
	sn, err := m.b.SafetyNumber(c.id)
	if err != nil {
		return header{noKey: true, unverified: true}
	}
	c.changed = sn.Changed
	return header{changed: sn.Changed, unverified: !sn.Verified}
}
