package client

import (
	"errors"

	"github.com/skymsg/sky/client/actions"
	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/group"
	"github.com/skymsg/sky/client/store"
)

// Replies, reactions, edits and deletion for everyone (package
// client/actions). conv names the conversation: a contact's Sky ID (or
// nickname, resolved by the caller) or a group's ID or name; messageID is
// the message's stable ID (Message.ID).

// Reply sends text to conv quoting message messageID of it (with a short
// excerpt), and returns it.
func (c *Client) Reply(conv, messageID, text string) (Message, error) {
	t, err := c.actionTarget(conv)
	if err != nil {
		return Message{}, err
	}
	q, err := c.actions.Quote(t, messageID)
	if err != nil {
		return Message{}, err
	}
	if t.Group != nil {
		c.logProfileErr(c.profiles.ShareWith(t.Members, t.Group))
		return c.groups.SendGroupQuoting(t.Group.String(), text, nil, q)
	}
	m, err := c.core.SendQuoting(t.Peer, text, nil, q)
	if err == nil {
		c.shareProfile(t.Peer)
	}
	return m, err
}

// React sets the user's reaction to a message (one emoji; it replaces the
// user's earlier one), or removes it when emoji is empty.
func (c *Client) React(conv, messageID, emoji string) error {
	return c.act(conv, content.KindReaction, messageID, emoji)
}

// Edit replaces the text of a message the user sent, within
// actions.EditLimit of sending it; everyone sees it marked edited.
func (c *Client) Edit(conv, messageID, text string) error {
	return c.act(conv, content.KindEdit, messageID, text)
}

// DeleteForEveryone destroys a message the user sent, here and at every
// recipient (as its timer would), within actions.DeleteLimit of sending it.
func (c *Client) DeleteForEveryone(conv, messageID string) error {
	return c.act(conv, content.KindDelete, messageID, "")
}

func (c *Client) act(conv string, kind content.Kind, messageID, value string) error {
	t, err := c.actionTarget(conv)
	if err != nil {
		return err
	}
	return c.actions.Act(t, kind, messageID, value)
}

// actionTarget resolves conv: a group the user is a member of (by ID or
// name), else a peer.
func (c *Client) actionTarget(conv string) (actions.Target, error) {
	id, members, err := c.groups.Audience(conv)
	switch {
	case err == nil:
		return actions.Target{Group: &id, Members: members}, nil
	case errors.Is(err, group.ErrNoSuchGroup):
	default:
		return actions.Target{}, err
	}
	if err := c.core.CheckPeer(conv); err != nil {
		return actions.Target{}, err
	}
	return actions.Target{Peer: conv}, nil
}

// applyAction applies a reaction, edit or deletion from peer: to a message
// of their 1:1 conversation, or of a group both are members of.
func (c *Client) applyAction(tx *store.Tx, peer string, ct *content.Content, b *core.Batch) error {
	conv := peer
	if ct.GroupID != (content.GroupID{}) {
		ok, err := c.groups.IsMember(tx, ct.GroupID, peer)
		if err != nil {
			return err
		}
		if !ok {
			b.Drop(peer, "a "+ct.Kind.String()+" in a group they or you are not a member of")
			return c.core.Track(tx, peer, ct.Seq, 0, b)
		}
		conv = ct.GroupID.String()
	}
	return c.actions.Apply(tx, peer, conv, ct, b)
}

// Search returns the messages whose text or file names contain query
// (ignoring case), in every conversation or, with set (a peer's or a
// group's ID), in that one. It decrypts and scans the history in pages in
// memory; no index, plaintext or encrypted, is kept on disk.
func (c *Client) Search(query, with string) ([]Message, error) {
	if with != "" {
		if id, _, err := c.groups.Audience(with); err == nil {
			with = id.String()
		}
	}
	return c.core.Search(query, with)
}
