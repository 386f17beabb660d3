package server

import (
	"container/list"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// What a connection may hold before it has proved anything.
//
// An unauthenticated connection (before its Hello, before Authenticate or
// Register, or anonymous for its whole life) costs the server a slot and
// some memory while nobody answers for it. Three things bound that cost:
//
//   - admission: at most Config.MaxUnauthenticatedPerAddress such
//     connections per source address (an IPv4 address, or an IPv6 /64);
//     at the connection limit a newcomer closes the oldest unauthenticated
//     connection that has had evictAfter to authenticate, instead of being
//     refused, so idle sockets cannot lock anyone out;
//   - frame limits: before authentication frames are at most
//     preAuthFrameBytes (Hello, Authenticate, Register); read buffers grow
//     only as bytes arrive, under a server-wide budget (frameBudget);
//   - time: every frame must be complete within Config.FrameTimeout of its
//     first byte, and anonymous connections last Config.AnonymousLifetime.
//
// Source addresses are held in memory only, while their connections are
// open, to count them: they are never logged, stored or put in metrics
// (SPEC invariant 1).

const (
	// preAuthFrameBytes bounds a frame (or fragmented message) before a
	// connection has authenticated or announced itself anonymous: Hello,
	// Authenticate and Register are a few hundred bytes.
	preAuthFrameBytes = 4 << 10
	// evictAfter is how long a new connection has to authenticate before
	// a newcomer at the connection limit may close it.
	evictAfter = time.Second
	// DefaultMaxUnauthenticatedPerAddress leaves room for a client that
	// sends to a 1,000-member group (one anonymous connection per member)
	// and for a few people behind one NAT.
	DefaultMaxUnauthenticatedPerAddress = 1024
	// DefaultFrameMemory is the default frame budget.
	DefaultFrameMemory = 128 << 20
)

// admission counts unauthenticated connections per source address and
// keeps them oldest first.
type admission struct {
	limit int // per address; <= 0: no limit
	mu    sync.Mutex
	per   map[netip.Addr]int
	order list.List // of *conn, oldest first
}

func newAdmission(limit int) *admission {
	return &admission{limit: limit, per: map[netip.Addr]int{}}
}

// sourceKey is what connections from remote (host:port) are counted
// under: the address, or its /64 for IPv6 (one subscriber's network).
// An address that does not parse counts under the zero key.
func sourceKey(remote string) netip.Addr {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			a = p.Addr()
		}
	}
	return a
}

// reserve counts one more unauthenticated connection from key; false if
// key is at its limit.
func (ad *admission) reserve(key netip.Addr) bool {
	ad.mu.Lock()
	defer ad.mu.Unlock()
	if ad.limit > 0 && ad.per[key] >= ad.limit {
		return false
	}
	ad.per[key]++
	return true
}

// unreserve gives back a reservation no connection was made for.
func (ad *admission) unreserve(key netip.Addr) {
	ad.mu.Lock()
	defer ad.mu.Unlock()
	ad.dropLocked(key)
}

func (ad *admission) dropLocked(key netip.Addr) {
	if ad.per[key]--; ad.per[key] <= 0 {
		delete(ad.per, key)
	}
}

// track lists c, reserved under key, as the newest unauthenticated
// connection.
func (ad *admission) track(c *conn, key netip.Addr) {
	ad.mu.Lock()
	defer ad.mu.Unlock()
	c.src, c.since = key, time.Now()
	c.unauth = ad.order.PushBack(c)
}

// release forgets c once it has authenticated or closed; it may be called
// more than once.
func (ad *admission) release(c *conn) {
	ad.mu.Lock()
	defer ad.mu.Unlock()
	if c.unauth == nil {
		return
	}
	ad.order.Remove(c.unauth)
	c.unauth = nil
	ad.dropLocked(c.src)
	c.src = netip.Addr{}
}

// oldest removes and returns the oldest unauthenticated connection if it
// has been open for at least age, else nil.
func (ad *admission) oldest(age time.Duration) *conn {
	ad.mu.Lock()
	defer ad.mu.Unlock()
	e := ad.order.Front()
	if e == nil {
		return nil
	}
	c := e.Value.(*conn)
	if time.Since(c.since) < age {
		return nil
	}
	ad.order.Remove(e)
	c.unauth = nil
	ad.dropLocked(c.src)
	c.src = netip.Addr{}
	return c
}

// frameBudget bounds the memory of frames being received, server-wide:
// every read buffer beyond the pooled readBufSize one, and every
// fragmented message being assembled, is charged to it while it is held.
// Anonymous connections may hold at most a quarter of it, so they cannot
// starve authenticated ones.
type frameBudget struct {
	limit, anonLimit int64
	used, anon       atomic.Int64
}

func newFrameBudget(limit int64) *frameBudget {
	return &frameBudget{limit: limit, anonLimit: limit / 4}
}

// take charges n bytes (n may be negative, to give some back); false, and
// nothing charged, if that would pass the budget.
func (b *frameBudget) take(n int64, anon bool) bool {
	if n <= 0 {
		b.give(-n, anon)
		return true
	}
	if b.used.Add(n) > b.limit {
		b.used.Add(-n)
		return false
	}
	if anon && b.anon.Add(n) > b.anonLimit {
		b.anon.Add(-n)
		b.used.Add(-n)
		return false
	}
	return true
}

// give returns n charged bytes.
func (b *frameBudget) give(n int64, anon bool) {
	b.used.Add(-n)
	if anon {
		b.anon.Add(-n)
	}
}
