package server

import (
	"sync/atomic"
	"time"

	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/wire"
)

// Cluster links this node to the other skyd nodes sharing its store, so any
// number of stateless nodes can serve one PostgreSQL database. Package
// server/cluster implements it over NATS; a nil Config.Cluster is a node on
// its own, which pushes freshly committed messages straight from memory.
//
// In a cluster a node cannot trust the order in which it sees commits: other
// nodes commit to the same queues. So a node never pushes from memory; a
// commit only wakes the recipient's connection, which re-reads its queue from
// the store after the last message it pushed. The store keeps each device's
// queue in commit order, so that cursor is safe (see docs/ARCHITECTURE.md).
type Cluster interface {
	// Attach is called once, by New, with this node's side of the link.
	// From then on the cluster may call n from any goroutine.
	Attach(n Node)
	// Committed tells the other nodes that new messages for these devices
	// are committed. The group-commit goroutine calls it after every
	// commit, with the recipients not connected here, so it must not block.
	Committed(to []store.Address)
	// Connected announces that device a authenticated on this node, so
	// other nodes close older connections of the same device: the newest
	// connection wins, cluster-wide.
	Connected(a store.Address)
	// AccountDeleted tells the other nodes to close the account's
	// connections.
	AccountDeleted(account string)
	// Limiter returns the rate limit named name (with rate r) shared by
	// every node.
	Limiter(name string, r Rate) SharedLimiter
}

// SharedLimiter is a set of token buckets, one per key, shared by every node
// of a cluster. Take spends one token of key's bucket at now, or says how
// long to wait for one. On error the node falls back to a bucket of its own,
// so a cluster that lost its link still limits each node.
type SharedLimiter interface {
	Take(key string, now time.Time) (wait time.Duration, ok bool, err error)
}

// SharedQuota is a SharedLimiter whose takes spend many tokens at once: the
// bytes of a per-account attachment quota. A Cluster's limiters implement
// it when they can; the quota stays per node otherwise.
type SharedQuota interface {
	// TakeN spends n tokens of key's bucket at now, or says how long to
	// wait for them (a day when n is over the burst: never).
	TakeN(key string, n int64, now time.Time) (wait time.Duration, ok bool, err error)
}

// Node is what a Cluster may ask of this node.
type Node interface {
	// Wake makes device a's connection here, if any, re-read its queue.
	Wake(a store.Address)
	// WakeAll wakes every connection here, after notifications may have
	// been lost (a reconnect to the bus, a node that died between its
	// commit and its notification).
	WakeAll()
	// Evict closes device a's connection here, if any, because the device
	// connected to another node since; it reports whether there was one.
	Evict(a store.Address) bool
	// EvictAccount closes the connections of every device of account here,
	// because the account was deleted on another node.
	EvictAccount(account string)
}

// limiter is a rate limit as the handlers use it.
type limiter interface {
	take(key string, now time.Time) (time.Duration, bool)
	prune(now time.Time)
}

// newLimiter returns the limit named name: shared with the other nodes when
// there is a cluster, this node's own otherwise.
func (s *Server) newLimiter(name string, r Rate) limiter {
	local := newKeyedLimiter(r)
	if s.cluster == nil {
		return local
	}
	return &sharedLimiter{shared: s.cluster.Limiter(name, r), local: local, s: s}
}

// sharedLimiter asks the cluster, and its own buckets when the cluster
// cannot answer.
type sharedLimiter struct {
	shared SharedLimiter
	local  *keyedLimiter
	s      *Server
	logged atomic.Int64 // unix seconds of the last warning
}

func (l *sharedLimiter) take(key string, now time.Time) (time.Duration, bool) {
	wait, ok, err := l.shared.Take(key, now)
	if err == nil {
		return wait, ok
	}
	if t, last := time.Now().Unix(), l.logged.Load(); t-last >= 60 && l.logged.CompareAndSwap(last, t) {
		l.s.log.Warn("shared rate limits unreachable; this node limits on its own meanwhile", "err", err)
	}
	return l.local.take(key, now)
}

func (l *sharedLimiter) prune(now time.Time) { l.local.prune(now) }

// delivered hands just-committed messages to their recipients: straight
// from memory on a node of its own; in a cluster, by waking the connections
// here and telling the other nodes about the rest.
func (s *Server) delivered(live []liveMessage) {
	if s.cluster == nil {
		s.hub.deliver(live)
		return
	}
	if len(live) == 0 {
		return
	}
	seen := make(map[store.Address]bool, len(live))
	var remote []store.Address
	for _, m := range live {
		if seen[m.To] {
			continue
		}
		seen[m.To] = true
		if c := s.hub.device(m.To); c != nil {
			c.wake()
		} else {
			remote = append(remote, m.To)
		}
	}
	if len(remote) > 0 {
		s.cluster.Committed(remote)
	}
}

// connected tells the cluster, if any, that device a authenticated here.
func (s *Server) connected(a store.Address) {
	if s.cluster != nil {
		s.cluster.Connected(a)
	}
}

// accountDeleted tells the cluster, if any, that account is gone.
func (s *Server) accountDeleted(account string) {
	if s.cluster != nil {
		s.cluster.AccountDeleted(account)
	}
}

// device returns the connection of device a on this node, or nil.
func (h *hub) device(a store.Address) *conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.devices[a]
}

// bound returns every authenticated connection on this node.
func (h *hub) bound() []*conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*conn, 0, len(h.devices))
	for _, c := range h.devices {
		out = append(out, c)
	}
	return out
}

// wake makes the connection re-read its queue from the store after its
// cursor, the only safe way to push in a cluster.
func (c *conn) wake() {
	c.mu.Lock()
	c.needDrain = true
	c.mu.Unlock()
	c.poke()
}

// statusNormalClosure is WebSocket close code 1000, what deleteAccount
// closes other connections of a deleted account with.
const statusNormalClosure = 1000

// clusterNode is this server's side of the cluster link.
type clusterNode struct{ s *Server }

func (n clusterNode) Wake(a store.Address) {
	if c := n.s.hub.device(a); c != nil {
		c.wake()
	}
}

func (n clusterNode) WakeAll() {
	for _, c := range n.s.hub.bound() {
		c.wake()
	}
}

func (n clusterNode) Evict(a store.Address) bool {
	c := n.s.hub.device(a)
	if c != nil {
		go c.fail(wire.Code_REPLACED, "this device connected again (to another server node); this older connection is closed", StatusReplaced)
	}
	return c != nil
}

func (n clusterNode) EvictAccount(account string) {
	for _, c := range n.s.hub.account(account) {
		go c.fail(wire.Code_NOT_FOUND, "this account was deleted", statusNormalClosure)
	}
}
