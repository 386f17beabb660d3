package tui

import (
	"fmt"
	"slices"

	tea "charm.land/bubbletea/v2"

	"github.com/skymsg/sky/client"
)

// event applies one of the client's events to what is shown.
func (m *Model) event(ev client.Event) tea.Cmd {
	switch e := ev.(type) {
	case *client.MessageEvent:
		return m.message(e.Message)
	case *client.ReceiptEvent:
		m.setState(e.Conversation, e.MessageIDs, e.State)
	case *client.SentEvent:
		m.setState(e.Conversation, []string{e.MessageID}, client.Sent)
	case *client.FailedEvent:
		m.setState(e.Conversation, []string{e.MessageID}, client.Failed)
		m.noteIn(e.Conversation, "a message could not be sent: "+e.Err.Error(), true)
	case *client.IdentityChangedEvent:
		if c := m.find(e.Peer); c != nil {
			c.changed = true
		}
		if m.open != nil && m.open.id == e.Peer {
			m.header.changed = true
		}
		m.noteIn(e.Peer, "this contact's safety number changed: nothing is sent to them until you compare the new number (/verify)", true)
	case *client.GroupEvent:
		m.reload()
		if m.open != nil && m.open.id == e.Group {
			m.loadOpen()
		}
	case *client.GapEvent:
		conv := e.Peer
		if e.Group != "" {
			conv = e.Group
		}
		m.noteIn(conv, fmt.Sprintf("%d message(s) from %s never arrived", e.Missing, m.nameOf(e.Peer)), true)
	case *client.UnannouncedDeviceEvent:
		m.status = fmt.Sprintf("the server named a device of %s that they never announced; what came from it was dropped", m.nameOf(e.Peer))
	case *client.ConnectionEvent:
		m.online = e.Connected
		if e.Connected {
			m.status = ""
		} else if e.Err != nil {
			m.status = "offline: " + e.Err.Error() + "; reconnecting"
		}
	case *client.AttachmentEvent:
		if e.Err != nil {
			m.noteIn(e.Conversation, fmt.Sprintf("%s was not downloaded: %v; /save %s fetches it while the server keeps it", e.Attachment.Name, e.Err, e.Attachment.ID), true)
		}
	case *client.ActionEvent:
		if m.open != nil && m.open.id == e.Conversation {
			m.loadOpen()
		}
	case *client.ProfileEvent:
		m.reload()
	case *client.TypingEvent:
		return m.noteTyping(e)
	case *client.LaggedEvent:
		m.reload()
		if m.open != nil {
			m.loadOpen()
		}
	}
	return nil
}

// message shows a new message: in the open conversation (and read), or as
// one more unread in the list.
func (m *Model) message(msg client.Message) tea.Cmd {
	if m.open != nil && m.open.id == msg.Conversation {
		if !slices.ContainsFunc(m.msgs, func(x client.Message) bool { return x.LocalID == msg.LocalID }) {
			m.msgs = append(m.msgs, msg)
		}
		if !msg.Outgoing {
			m.markRead(msg.LocalID)
		}
		return m.expiryTick()
	}
	c := m.find(msg.Conversation)
	if c == nil || c.kind == kindRequest != msg.Request {
		m.reload() // a new request, a group just joined, a request accepted elsewhere
		return nil
	}
	if !msg.Outgoing {
		c.unread++
	}
	return nil
}

// setState updates the delivery state of sent messages shown; a state
// never goes back (a late "sent" after "read").
func (m *Model) setState(convID string, ids []string, st client.State) {
	if m.open == nil || m.open.id != convID {
		return
	}
	for i, msg := range m.msgs {
		if msg.Outgoing && slices.Contains(ids, msg.ID) && (st == client.Failed || progress(st) > progress(msg.State)) {
			m.msgs[i].State = st
		}
	}
}

// progress orders the states of a sent message.
func progress(s client.State) int {
	return slices.Index([]client.State{client.Pending, client.Sent, client.Delivered, client.Read}, s)
}

// noteIn adds a note to conversation id if it is open.
func (m *Model) noteIn(id, text string, warn bool) {
	if m.open != nil && m.open.id == id {
		m.addNote(text, warn)
	}
}

// nameOf is how a message or note names the person id.
func (m *Model) nameOf(id string) string {
	if id == m.self {
		return "me"
	}
	if c := m.find(id); c != nil && c.kind != kindGroup {
		return c.label()
	}
	return id
}
