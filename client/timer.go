package client

import (
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/store"
)

// Disappearing messages. Each conversation has a timer (5 s to 4 weeks, or
// off). Either side changes it with a timer-change message inside the
// session, which both sides show; concurrent changes settle on the same
// value on both sides (timerVersion). Every text carries the timer that
// applies to it: the sender's copy counts from sending, the recipient's from
// reading. The store destroys a message's key when it expires.

// Timer returns the disappearing-messages timer of the conversation with
// peer (the account default for a conversation that has not started).
func (c *Client) Timer(peer string) (time.Duration, error) {
	var d time.Duration
	err := c.view(func(tx *store.Tx) error {
		conv, err := tx.Conversation(peer)
		if err == nil {
			d = conv.Timer
			return nil
		}
		d, err = defaultTimer(tx)
		return err
	})
	return d, err
}

// SetTimer changes the timer of the conversation with peer (0: off) and
// tells peer through the session; both see a timer-change notice.
func (c *Client) SetTimer(peer string, d time.Duration) error {
	if err := c.checkPeer(peer); err != nil {
		return err
	}
	if !content.ValidTimer(d) || d%time.Second != 0 {
		return ErrInvalidTimer
	}
	err := c.update(func(tx *store.Tx) error {
		if err := c.refuseChanged(tx, peer); err != nil {
			return err
		}
		if err := acceptPeer(tx, peer, c.now()); err != nil {
			return err
		}
		conv, err := c.conversation(tx, peer, 0)
		if err != nil {
			return err
		}
		cur, err := loadTimerVersion(tx, peer)
		if err != nil {
			return err
		}
		nv := timerVersion{V: cur.V + 1, By: c.acct.ID}
		if err := saveTimerVersion(tx, peer, nv); err != nil {
			return err
		}
		conv.Timer, conv.UpdatedAt = d, c.now()
		if err := tx.PutConversation(conv); err != nil {
			return err
		}
		_, err = c.addOutgoing(tx, peer, &content.Content{Kind: content.KindTimerChange, Timer: d, TimerV: nv.V})
		return err
	})
	if err != nil {
		return err
	}
	c.emit(&TimerEvent{Conversation: peer, Timer: d, By: c.acct.ID})
	poke(c.kick)
	poke(c.expiryKick)
	c.notify()
	return nil
}

// DefaultTimer returns the account default timer of new conversations.
func (c *Client) DefaultTimer() (time.Duration, error) {
	var d time.Duration
	err := c.view(func(tx *store.Tx) (err error) {
		d, err = defaultTimer(tx)
		return err
	})
	return d, err
}

// SetDefaultTimer sets the account default timer of new conversations
// (0: off). Existing conversations keep theirs.
func (c *Client) SetDefaultTimer(d time.Duration) error {
	if !content.ValidTimer(d) || d%time.Second != 0 {
		return ErrInvalidTimer
	}
	return c.update(func(tx *store.Tx) error {
		return tx.SetSetting(setDefaultTimer, protowire.AppendVarint(nil, uint64(d/time.Second)))
	})
}

// Expire destroys every message whose time has come (by the client's
// clock), with its key, and reports how many went. The client does this by
// itself, on time, while it is open; tests with a manual clock call it.
func (c *Client) Expire() (int, error) {
	res, err := c.st.Expire(c.now())
	if err != nil {
		return 0, err
	}
	return res.Deleted, nil
}

// expiryLoop runs Expire whenever the next expiry is due.
func (c *Client) expiryLoop() {
	defer c.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		wait := time.Hour
		if next := c.st.NextExpiry(); !next.IsZero() {
			wait = max(next.Sub(c.now()), 0)
		}
		t.Reset(wait)
		select {
		case <-c.stop:
			return
		case <-c.expiryKick:
		case <-t.C:
			if _, err := c.Expire(); err != nil {
				c.opts.Logger.Warn("expiring messages failed", "err", err)
				select {
				case <-c.stop:
					return
				case <-time.After(time.Second):
				}
			}
		}
	}
}
