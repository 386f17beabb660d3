package core

import (
	"context"
	"errors"
	"time"

	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/wire"
)

// AccountInfo is what the server says about the account.
type AccountInfo struct {
	ID              string
	Created         time.Time // the creation day
	SubscriptionEnd time.Time
	Revoked         bool
	CanSend         bool
}

// AccountInfo asks the server about the account. Run must be running; it
// waits for the connection until ctx ends.
func (c *Core) AccountInfo(ctx context.Context) (AccountInfo, error) {
	cn, err := c.connected(ctx)
	if err != nil {
		return AccountInfo{}, err
	}
	r, err := cn.Call(ctx, &wire.Request{Op: &wire.Request_GetAccount{GetAccount: &wire.GetAccount{}}})
	if err != nil {
		return AccountInfo{}, serverError(err)
	}
	a := r.GetAccount()
	return AccountInfo{ID: a.GetAccount(), Created: time.Unix(a.GetCreated(), 0).UTC(), SubscriptionEnd: time.Unix(a.GetSubscriptionEnd(), 0).UTC(),
		Revoked: a.GetRevoked(), CanSend: a.GetCanSend()}, nil
}

// DeleteAccount deletes the account on the server (its queued messages and
// prekeys with it) and then erases the local store. The Client is closed
// afterwards. Run must be running; it waits for the connection until ctx
// ends.
func (c *Core) DeleteAccount(ctx context.Context) error {
	cn, err := c.connected(ctx)
	if err != nil {
		return err
	}
	if _, err := cn.Call(ctx, &wire.Request{Op: &wire.Request_DeleteAccount{DeleteAccount: &wire.DeleteAccount{}}}); err != nil {
		return serverError(err)
	}
	return c.Wipe()
}

// Wipe crypto-erases the local store now, exactly as the panic passphrase
// does, and closes the client. The server account is left as it is.
func (c *Core) Wipe() error {
	c.halt()
	c.mu.Lock()
	cn := c.conn
	c.mu.Unlock()
	if cn != nil {
		cn.Close()
	}
	return c.St.Wipe()
}

// SetPanic sets (or replaces) the panic passphrase. Typed at any later
// unlock it erases the store, and with deleteAccount also deletes the
// account on the server. An unlock with it costs the same work as a real
// unlock.
func (c *Core) SetPanic(passphrase []byte, deleteAccount bool) error {
	err := c.St.SetPanic(passphrase, deleteAccount)
	if errors.Is(err, store.ErrClosed) {
		return ErrClosed
	}
	return err
}

// ClearPanic removes the panic passphrase.
func (c *Core) ClearPanic() error { return c.St.ClearPanic() }

// PanicSettings reports whether a panic passphrase is set and whether it
// also deletes the server account.
func (c *Core) PanicSettings() (set, deleteAccount bool, err error) { return c.St.PanicSettings() }

// ChangePassphrase changes the passphrase (see store.ChangePassphrase: the
// panic passphrase typed as current wipes the store).
func (c *Core) ChangePassphrase(current, next []byte) error {
	return c.St.ChangePassphrase(current, next)
}

// SetMaxFailedUnlocks makes the store erase itself (as the panic passphrase
// does, without deleting the server account) after n failed unlocks in a
// row; 0 turns that off.
func (c *Core) SetMaxFailedUnlocks(n int) error { return c.St.SetMaxFailedUnlocks(n) }

// MaxFailedUnlocks returns the failed-unlock limit (0: none).
func (c *Core) MaxFailedUnlocks() int { return c.St.MaxFailedUnlocks() }
