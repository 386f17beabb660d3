package core

import (
	"context"
	"errors"
	"time"

	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/client/devices/devlist"
)

// ListCheck is a KeyCheck that also checks contacts' signed device lists
// against the key directory (package client/transparency), so that a
// server cannot show two contacts two different lists of one account.
type ListCheck interface {
	// CheckList is called before a contact's list is accepted: version,
	// digest (devlist.Digest) and number of devices of the list served.
	CheckList(ctx context.Context, cn *conn.Conn, account string, version uint64, digest [32]byte, devices int) error
}

// checkListInDirectory checks raw, the list the server served for account,
// against the directory. A list not yet there waits (errRetry); one the
// directory contradicts is refused and reported (DeviceListRefusedEvent and
// KeyDirectoryEvent), the accepted list kept. The own account's lists are
// not checked: the device monitors its own entries.
func (c *Core) checkListInDirectory(ctx context.Context, cn *conn.Conn, account string, raw []byte) error {
	lc, ok := c.keyCheck.(ListCheck)
	if !ok || len(raw) == 0 || account == c.acct.ID {
		return nil
	}
	l, err := devlist.Decode(raw)
	if err != nil {
		return nil // acceptList refuses and reports it
	}
	err = lc.CheckList(ctx, cn, account, l.Version, devlist.Digest(raw), len(l.Devices))
	var later interface{ RetryAfter() time.Duration }
	switch {
	case err == nil:
		return nil
	case errors.As(err, &later):
		return &errRetry{err: err, wait: later.RetryAfter()}
	}
	c.Emit(&DeviceListRefusedEvent{Peer: account, Reason: err.Error()}, &KeyDirectoryEvent{Peer: account, Err: err})
	return &ListRefusedError{Account: account, Reason: err.Error()}
}
