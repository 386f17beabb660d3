package client

import (
	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/client/typing"
)

// Typing indicators (package client/typing): off until the user turns
// them on; never stored.

// TypingIndicators reports whether typing indicators are on (they are off
// by default: they tell others when the user is active).
func (c *Client) TypingIndicators() (bool, error) { return c.typing.Enabled() }

// SetTypingIndicators turns typing indicators on or off, both ways: off,
// the client neither sends the user's nor shows anyone else's.
func (c *Client) SetTypingIndicators(on bool) error { return c.typing.SetEnabled(on) }

// Typing tells conv (a contact's ID, or a group's ID or name) that the
// user is typing (true) or stopped. Call it as the user types: it sends at
// most one indicator every typing.Refresh per conversation, only while
// connected and indicators are on, only to contacts and groups of at most
// typing.MaxGroupMembers; otherwise it does nothing.
func (c *Client) Typing(conv string, on bool) error {
	t, err := c.actionTarget(conv)
	if err != nil {
		return err
	}
	_, err = c.typing.Send(typing.Target{Peer: t.Peer, Group: t.Group, Members: t.Members}, on)
	return err
}

// applyTyping shows an indicator from a contact, or from a member of the
// group it names.
func (c *Client) applyTyping(tx *store.Tx, peer string, ct *content.Content, b *core.Batch) error {
	var known bool
	var err error
	if ct.GroupID == (content.GroupID{}) {
		known, err = core.IsContact(tx, peer)
	} else {
		known, err = c.groups.IsMember(tx, ct.GroupID, peer)
	}
	if err != nil {
		return err
	}
	return c.typing.Receive(tx, peer, known, ct, b)
}
