package core

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/client/store"
)

// KeyCheck checks keys against the server's key directory (package
// client/transparency): every key a session is started with, and the
// account's own entry on every connection and at an interval.
type KeyCheck interface {
	// CheckKey is called before a session is started from the bundles the
	// server handed out for peer. An error keeps peer's messages queued:
	// nothing is encrypted to that key, as with an unaccepted key change.
	CheckKey(ctx context.Context, cn *conn.Conn, peer string, identityKey []byte) error
	// Monitor checks the account's own entry; Interval is how often.
	Monitor(ctx context.Context, cn *conn.Conn) error
	Interval() time.Duration
}

// KeyDirectoryEvent: the key directory check failed. Peer is the contact
// whose key it concerns, or the user's own ID for monitoring; Err says
// what the directory (or the server) did and what to do.
type KeyDirectoryEvent struct {
	Peer string
	Err  error
}

func (*KeyDirectoryEvent) event() {}

// SetKeyCheck installs the key directory's checks; call it before Run.
func (c *Core) SetKeyCheck(k KeyCheck) { c.keyCheck = k }

// checkKey runs the key check on the identity key of peer's bundles.
func (c *Core) checkKey(ctx context.Context, cn *conn.Conn, peer string, identityKey []byte) error {
	if c.keyCheck == nil {
		return nil
	}
	err := c.keyCheck.CheckKey(ctx, cn, peer, identityKey)
	var later interface{ RetryAfter() time.Duration }
	c.mu.Lock()
	if err == nil || !errors.As(err, &later) {
		delete(c.keyWait, peer)
	} else {
		if c.keyWait == nil {
			c.keyWait = map[string]error{}
		}
		c.keyWait[peer] = err
	}
	c.mu.Unlock()
	switch {
	case err == nil:
	case errors.As(err, &later):
		return &errRetry{err: err, wait: later.RetryAfter()} // not an alarm: not yet published
	default:
		c.Emit(&KeyDirectoryEvent{Peer: peer, Err: err})
	}
	return err
}

// KeyDirectoryWaitError says that a message is still queued because its
// recipient's key is not in the key directory yet (an account registered
// moments ago is added at the directory's next head, within about a
// minute): nothing is wrong, and it goes out by itself once the key is
// there. Flush returns it when its context ends; it matches the context's
// error too (errors.Is(err, context.DeadlineExceeded)).
type KeyDirectoryWaitError struct {
	Peer string
	Err  error // the context's error
	Why  error // the key check's answer
}

func (e *KeyDirectoryWaitError) Error() string {
	return fmt.Sprintf("waiting for the key directory: %s's key is not in it yet (a new account is added at the directory's next head, "+
		"within about a minute); the message stays queued and goes out by itself once it is", e.Peer)
}

func (e *KeyDirectoryWaitError) Unwrap() []error { return []error{e.Err, e.Why} }

// keyDirectoryWait returns why items wait for the key directory, if some
// of items do.
func (c *Core) keyDirectoryWait(items []store.Outgoing, ctxErr error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, it := range items {
		if why, ok := c.keyWait[it.To]; ok {
			return &KeyDirectoryWaitError{Peer: it.To, Err: ctxErr, Why: why}
		}
	}
	return nil
}

// keyCheckLoop monitors the own entry now and at the check's interval.
func (c *Core) keyCheckLoop(ctx context.Context, cn *conn.Conn) {
	if c.keyCheck == nil {
		return
	}
	for {
		if err := c.keyCheck.Monitor(ctx, cn); err != nil && ctx.Err() == nil {
			c.Emit(&KeyDirectoryEvent{Peer: c.acct.ID, Err: err})
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(c.keyCheck.Interval()):
		}
	}
}

// KeyDirectoryOptions configure the key directory checks.
type KeyDirectoryOptions struct {
	// Off turns the checks off (for servers known to have no directory).
	Off bool
	// Auditor, as NAME=KEY (the key sky-auditor init printed, base64),
	// makes the client use only heads that auditor countersigned.
	Auditor string
	// Interval between checks of the own entry; default 10 minutes.
	Interval time.Duration
}

// HeadGossip is a KeyCheck that exchanges key directory heads with
// contacts inside end-to-end messages, so that a server showing different
// people different trees (a split view) is caught by the people.
type HeadGossip interface {
	// Head is the newest signed head seen, sent along with texts (nil:
	// none yet).
	Head() []byte
	// Gossip hands over a head peer saw; it is checked at the next
	// monitoring, which raises the alarm if it and the own view cannot be
	// one log.
	Gossip(peer string, head []byte)
}

// directoryHead is the head to send with a text, if any.
func (c *Core) directoryHead() []byte {
	if g, ok := c.keyCheck.(HeadGossip); ok {
		return g.Head()
	}
	return nil
}

// gossip passes on the head a contact's message carried.
func (c *Core) gossip(peer string, head []byte) {
	if g, ok := c.keyCheck.(HeadGossip); ok && len(head) > 0 {
		g.Gossip(peer, head)
	}
}
