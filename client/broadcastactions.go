package client

import (
	"errors"
	"fmt"
	"time"

	"github.com/skymsg/sky/client/actions"
	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/store"
)

// Actions on a broadcast (package client/actions, copies.go): the author
// edits or deletes for everyone every copy a broadcast made, naming the
// broadcast by any copy's message ID. A reply or reaction to a copy is an
// ordinary action in that 1:1 chat.

// EditBroadcast replaces the text of every copy of the broadcast to list
// that one of whose copies is messageID (within actions.EditLimit). Copies
// that are gone (their timer ran out) are skipped; the error names any
// other that failed.
func (c *Client) EditBroadcast(list, messageID, text string) error {
	return c.actOnCopies(list, messageID, content.KindEdit, text)
}

// UnsendBroadcast deletes for everyone every copy of the broadcast to list
// that one of whose copies is messageID (within actions.DeleteLimit).
func (c *Client) UnsendBroadcast(list, messageID string) error {
	return c.actOnCopies(list, messageID, content.KindDelete, "")
}

func (c *Client) actOnCopies(list, messageID string, kind content.Kind, text string) error {
	var copies []actions.Copy
	err := c.core.View(func(tx *store.Tx) (err error) {
		copies, err = actions.Copies(tx, list, messageID, c.core.Now())
		return err
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, cp := range copies {
		err := c.act(cp.Peer, kind, cp.ID, text)
		if err != nil && !errors.Is(err, actions.ErrNoSuchMessage) {
			errs = append(errs, fmt.Errorf("to %s: %w", cp.Peer, err))
		}
	}
	return errors.Join(errs...)
}

// recordBroadcast remembers the copies a broadcast made, for EditBroadcast
// and UnsendBroadcast.
func (c *Client) recordBroadcast(list string, ms []Message) {
	if len(ms) == 0 {
		return
	}
	copies := make([]actions.Copy, len(ms))
	for i, m := range ms {
		copies[i] = actions.Copy{Peer: m.Conversation, ID: m.ID}
	}
	at := ms[0].SentAt
	if at.IsZero() {
		at = c.core.Now()
	}
	err := c.core.Update(func(tx *store.Tx) error {
		return actions.RecordBroadcast(tx, list, at.Truncate(time.Millisecond), copies)
	})
	if err != nil {
		c.core.Opts.Logger.Warn("the broadcast's copies could not be recorded; edit or delete each in its chat", "err", err)
	}
}
