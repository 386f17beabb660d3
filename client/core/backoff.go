package core

import (
	"context"
	"sync"
	"time"
)

// Reconnection back-off. Run waits between connection attempts, doubling
// from Options.MinBackoff up to a cap. The cap starts as Options.MaxBackoff
// (a minute by default, kind to a server coming back from an outage) and
// can be changed while the client runs (SetMaxBackoff): a process a user
// watches — sky daemon, sky web, sky tui, receive --follow — caps it at a
// few seconds, so a server that comes back is found within seconds, not a
// minute. Lowering the cap also shortens a wait already under way.

// backoffCap is the runtime cap of the reconnection back-off.
type backoffCap struct {
	mu   sync.Mutex
	max  time.Duration // 0: Options.MaxBackoff
	kick chan struct{} // the cap changed
}

// SetMaxBackoff caps the wait between reconnection attempts at d from now
// on (d <= 0: back to Options.MaxBackoff), and cuts a longer wait under way
// down to d. A wait the server asked for (RATE_LIMITED with a retry time) is
// still honoured.
func (c *Core) SetMaxBackoff(d time.Duration) {
	c.backoff.mu.Lock()
	c.backoff.max = max(d, 0)
	if c.backoff.kick == nil {
		c.backoff.kick = make(chan struct{}, 1)
	}
	kick := c.backoff.kick
	c.backoff.mu.Unlock()
	poke(kick)
}

// MaxBackoff returns the current cap of the wait between reconnection
// attempts.
func (c *Core) MaxBackoff() time.Duration {
	d, _ := c.maxBackoff()
	return d
}

// maxBackoff returns the current cap and the channel that says it changed.
func (c *Core) maxBackoff() (time.Duration, chan struct{}) {
	c.backoff.mu.Lock()
	defer c.backoff.mu.Unlock()
	if c.backoff.kick == nil {
		c.backoff.kick = make(chan struct{}, 1)
	}
	if c.backoff.max > 0 {
		return c.backoff.max, c.backoff.kick
	}
	return c.Opts.MaxBackoff, c.backoff.kick
}

// jittered returns a wait between b/2 and b.
func jittered(b time.Duration) time.Duration { return b/2 + randDuration(b/2+1) }

// waitToReconnect waits about backoff (never more than the cap, never less
// than floor, the server's own retry time) before the next attempt; a lower
// cap set meanwhile shortens the wait. It reports false when ctx ended.
func (c *Core) waitToReconnect(ctx context.Context, backoff, floor time.Duration) bool {
	limit, kick := c.maxBackoff()
	deadline := time.Now().Add(max(jittered(min(backoff, limit)), floor))
	for {
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
			return true
		case <-kick:
			t.Stop()
			limit, kick = c.maxBackoff()
			if d := max(jittered(limit), floor); time.Until(deadline) > d {
				deadline = time.Now().Add(d)
			}
		}
	}
}
