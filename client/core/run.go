package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/wire"
)

// Connection. Run keeps one authenticated connection to the server: it
// reconnects with exponential backoff and jitter, and while connected it
// stores and acknowledges what the server pushes, sends the outbox in order
// and keeps one-time prekeys topped up.

// seenRetention is how long the dedupe record remembers a message: longer
// than the longest a server may hold one (30 days).
const seenRetention = 31 * 24 * time.Hour

// Run connects and stays connected until ctx is done or the client is
// closed; then it returns nil. It returns an error only when connecting can
// never work (ErrAuthFailed: the server does not know this device).
// Connection changes are announced with ConnectionEvent.
func (c *Core) Run(ctx context.Context) error {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return ErrClosed
	case c.running:
		c.mu.Unlock()
		return ErrRunning
	}
	c.running = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.running = false
		c.mu.Unlock()
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	c.forgetOldSeen()
	backoff := c.Opts.MinBackoff
	for {
		start := time.Now()
		err := c.runConn(ctx)
		if errors.Is(err, ErrAuthFailed) && ctx.Err() == nil && c.removedByAccount(ctx) {
			err = ErrRemoved
		}
		if errors.Is(err, ErrRemoved) {
			c.mu.Lock()
			c.connErr = err
			c.mu.Unlock()
			c.Notify()
			c.Emit(&ConnectionEvent{Connected: false, Err: err})
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		c.mu.Lock()
		c.connErr = err
		c.mu.Unlock()
		c.Notify()
		c.Emit(&ConnectionEvent{Connected: false, Err: err})
		if errors.Is(err, ErrAuthFailed) {
			return err
		}
		if time.Since(start) > time.Minute {
			backoff = c.Opts.MinBackoff
		}
		var floor time.Duration
		if we := (*wire.Error)(nil); errors.As(err, &we) {
			floor = we.RetryAfter()
		}
		if !c.waitToReconnect(ctx, backoff, floor) {
			return nil
		}
		limit, _ := c.maxBackoff()
		backoff = min(2*backoff, max(limit, c.Opts.MinBackoff))
	}
}

// forgetOldSeen prunes the dedupe record, at most once a day.
func (c *Core) forgetOldSeen() {
	now := c.Now()
	err := c.Update(func(tx *store.Tx) error {
		f, err := SettingFields(tx, setSeenPruned)
		if err != nil {
			return err
		}
		if last := time.Unix(0, int64(f.Nums[1])); now.Sub(last) < 24*time.Hour && !last.After(now) {
			return nil
		}
		if _, err := tx.ForgetSeen(now.Add(-seenRetention)); err != nil {
			return err
		}
		return tx.SetSetting(setSeenPruned, PutNum(nil, 1, uint64(now.UnixNano())))
	})
	if err != nil {
		c.Opts.Logger.Warn("pruning the dedupe record failed", "err", err)
	}
}

// runConn runs one connection until it ends.
func (c *Core) runConn(ctx context.Context) error {
	dctx, dcancel := context.WithTimeout(ctx, 20*time.Second)
	cn, err := conn.Dial(dctx, c.acct.Server)
	if err != nil {
		dcancel()
		return err
	}
	info, err := cn.Authenticate(dctx, c.acct.ID, c.acct.DeviceID, c.auth)
	if err == nil {
		// Before anything else: a device the account removed stops here.
		err = c.maintainOwnList(dctx, cn)
	}
	dcancel()
	if err != nil {
		cn.Close()
		return serverError(err)
	}
	c.mu.Lock()
	c.conn, c.connErr, c.sendErr, c.connSince = cn, nil, nil, time.Now()
	if info != nil && !info.GetCanSend() {
		c.sendErr = ErrExpired
		if info.GetRevoked() {
			c.sendErr = ErrRevoked
		}
	}
	c.blocked = map[string]error{}
	c.mu.Unlock()
	mctx, mcancel := context.WithTimeout(ctx, 20*time.Second)
	refresh, err := c.maintainSealed(mctx, cn)
	mcancel()
	if err != nil {
		cn.Close()
		c.mu.Lock()
		c.conn = nil
		c.mu.Unlock()
		return err
	}
	c.Notify()
	c.Emit(&ConnectionEvent{Connected: true})

	cctx, ccancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		ccancel()
		cn.Close()
		wg.Wait()
		c.mu.Lock()
		c.conn = nil
		c.mu.Unlock()
		c.Notify()
	}()
	wg.Add(4)
	go func() { defer wg.Done(); c.keyCheckLoop(cctx, cn) }()
	go func() { defer wg.Done(); c.sendLoop(cctx, cn) }()
	go func() { defer wg.Done(); c.prekeyLoop(cctx, cn) }()
	go func() { defer wg.Done(); c.sealedLoop(cctx, cn, refresh) }()

	tick := time.NewTicker(max(c.Opts.GapTimeout/4, 100*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case envs := <-cn.Pushes():
			if err := c.handleBatch(cctx, cn, envs); err != nil {
				return fmt.Errorf("storing received messages failed: %w", err)
			}
		case <-tick.C:
			if err := c.releaseHeldNow(); err != nil {
				return err
			}
		case <-cn.Done():
			if err := cn.Err(); err != nil {
				return serverError(err)
			}
			return conn.ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// prekeyLoop keeps the server's one-time prekeys topped up: on connecting,
// after first messages used some, and every PreKeyCheck (a fifth of it
// while the server's count keeps falling between checks: someone is
// taking keys, perhaps without sending anything).
func (c *Core) prekeyLoop(ctx context.Context, cn *conn.Conn) {
	t := time.NewTimer(c.Opts.PreKeyCheck)
	defer t.Stop()
	left := -1 // keys the server held after the last check
	for {
		wait := c.Opts.PreKeyCheck
		seen, after, err := c.maintainPreKeys(ctx, cn)
		if err != nil && ctx.Err() == nil {
			c.Opts.Logger.Warn("topping up prekeys failed", "err", err)
		}
		if err == nil {
			if left >= 0 && seen < left {
				wait /= 5
			}
			left = after
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.prekeyKick:
		}
	}
}

// connected waits for the live connection (until ctx is done).
func (c *Core) connected(ctx context.Context) (*conn.Conn, error) {
	for {
		c.mu.Lock()
		cn, ch, err, closed := c.conn, c.changed, c.connErr, c.closed
		c.mu.Unlock()
		if closed && errors.Is(err, ErrRemoved) {
			return nil, ErrRemoved
		}
		if closed {
			return nil, ErrClosed
		}
		if cn != nil {
			return cn, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			if err != nil {
				return nil, fmt.Errorf("%w (%w)", ErrNotConnected, err)
			}
			return nil, ErrNotConnected
		}
	}
}

// Connected reports whether the client is connected now.
func (c *Core) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn != nil
}

// LastConnError returns why the last connection attempt, or the last
// connection, failed: nil while connected and before the first attempt
// ends.
func (c *Core) LastConnError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		return nil
	}
	return c.connErr
}

// WaitConnected waits until the client is connected (Run must be running).
func (c *Core) WaitConnected(ctx context.Context) error {
	_, err := c.connected(ctx)
	return err
}

// Flush waits until the outbox is empty: everything queued is on the server.
// It returns early with the reason when the rest cannot be sent now — an
// *IdentityChangedError, ErrExpired, ErrRevoked — and with ErrOffline (what
// is queued stays queued) when ctx ends while the client is not connected.
func (c *Core) Flush(ctx context.Context) error {
	for {
		c.mu.Lock()
		ch, cn, connErr, sendErr := c.changed, c.conn, c.connErr, c.sendErr
		blocked := make(map[string]error, len(c.blocked))
		for k, v := range c.blocked {
			blocked[k] = v
		}
		c.mu.Unlock()
		var items []store.Outgoing
		if err := c.View(func(tx *store.Tx) (err error) { items, err = tx.Outbox(); return }); err != nil {
			return err
		}
		if len(items) == 0 {
			return nil
		}
		if sendErr != nil {
			return sendErr
		}
		var stuck error
		for _, it := range items {
			if err, ok := blocked[it.To]; ok {
				stuck = err
				continue
			}
			stuck = nil
			break
		}
		if stuck != nil {
			return stuck
		}
		select {
		case <-ch:
		case <-ctx.Done():
			if cn == nil {
				if connErr != nil {
					return fmt.Errorf("%w (%w)", ErrOffline, connErr)
				}
				return ErrOffline
			}
			if err := c.keyDirectoryWait(items, ctx.Err()); err != nil {
				return err
			}
			return ctx.Err()
		}
	}
}
