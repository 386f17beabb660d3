package core

import (
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/store"
	"google.golang.org/protobuf/encoding/protowire"
)

// The account's default timer and the expiry of messages. Each
// conversation's timer is package client/timers'; the store destroys a
// message's key when it expires, and the core runs that on time.

// DefaultTimer returns the account default timer of new conversations.
func (c *Core) DefaultTimer() (time.Duration, error) {
	var d time.Duration
	err := c.View(func(tx *store.Tx) (err error) {
		d, err = AccountTimer(tx)
		return err
	})
	return d, err
}

// SetDefaultTimer sets the account default timer of new conversations
// (0: off). Existing conversations keep theirs.
func (c *Core) SetDefaultTimer(d time.Duration) error {
	if !content.ValidTimer(d) || d%time.Second != 0 {
		return ErrInvalidTimer
	}
	return c.Update(func(tx *store.Tx) error {
		return tx.SetSetting(setDefaultTimer, protowire.AppendVarint(nil, uint64(d/time.Second)))
	})
}

// Expire destroys every message whose time has come (by the client's
// clock), with its key, and reports how many went. The client does this by
// itself, on time, while it is open; tests with a manual clock call it.
func (c *Core) Expire() (int, error) {
	res, err := c.St.Expire(c.Now())
	if err != nil {
		return 0, err
	}
	return res.Deleted, nil
}

// expiryLoop runs Expire whenever the next expiry is due.
func (c *Core) expiryLoop() {
	defer c.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		wait := time.Hour
		if next := c.St.NextExpiry(); !next.IsZero() {
			wait = max(next.Sub(c.Now()), 0)
		}
		t.Reset(wait)
		select {
		case <-c.stop:
			return
		case <-c.expiryKick:
		case <-t.C:
			if _, err := c.Expire(); err != nil {
				c.Opts.Logger.Warn("expiring messages failed", "err", err)
				select {
				case <-c.stop:
					return
				case <-time.After(time.Second):
				}
			}
		}
	}
}
