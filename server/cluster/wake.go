package cluster

import (
	"errors"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/skymsg/sky/server/metrics"
	"github.com/skymsg/sky/server/store"
)

// clusterMetrics are counts only: no label names a device or a node.
type clusterMetrics struct {
	wakesSent, wakesReceived, evictions, badFrames *metrics.Counter
	wakeAllReconnect, wakeAllPeer, wakeAllLost     *metrics.Counter
	wakeAllPoll, limitErrors                       *metrics.Counter
	peers, connected                               *metrics.Gauge
}

func newMetrics(r *metrics.Registry) *clusterMetrics {
	const wakeAll = "skyd_cluster_wake_all_total"
	const wakeAllHelp = "Times every connection on this node re-read its queue because notifications may have been lost."
	return &clusterMetrics{
		wakesSent:        r.Counter("skyd_cluster_wakes_sent_total", "Devices other nodes were told have new messages."),
		wakesReceived:    r.Counter("skyd_cluster_wakes_received_total", "Devices other nodes said have new messages."),
		evictions:        r.Counter("skyd_cluster_evictions_total", "Connections closed because their device connected to another node."),
		badFrames:        r.Counter("skyd_cluster_bad_messages_total", "Malformed messages from the bus, dropped."),
		wakeAllReconnect: r.Counter(wakeAll, wakeAllHelp, "reason", "reconnected"),
		wakeAllPeer:      r.Counter(wakeAll, wakeAllHelp, "reason", "peer_silent"),
		wakeAllLost:      r.Counter(wakeAll, wakeAllHelp, "reason", "hints_lost"),
		wakeAllPoll:      r.Counter(wakeAll, wakeAllHelp, "reason", "cut_off"),
		limitErrors:      r.Counter("skyd_cluster_limit_errors_total", "Shared rate-limit checks that failed (the node used its own buckets)."),
		peers:            r.Gauge("skyd_cluster_peers", "Other nodes heard from recently."),
		connected:        r.Gauge("skyd_cluster_nats_connected", "1 while connected to NATS."),
	}
}

// wakeQueue is how many commits' wake messages may wait for the publisher.
const wakeQueue = 4096

// Committed implements server.Cluster. It never blocks the group commit: a
// publisher goroutine sends the wake messages, and should they pile up (NATS
// stalled) they are dropped and every node is told to re-read everything
// once NATS answers again.
func (c *Cluster) Committed(to []store.Address) {
	toks := make([]token, 0, len(to))
	for _, a := range to {
		if t, ok := c.addrs.seal(a); ok {
			toks = append(toks, t)
		}
	}
	if len(toks) == 0 {
		return
	}
	select {
	case c.wakes <- toks:
	default:
		c.markLost()
	}
}

// publishWakes sends the wake messages Committed queued, one message per
// maxWakeTokens recipients. While NATS is away the client buffers them;
// when even that fails, the next reconnect makes every node re-read
// everything.
func (c *Cluster) publishWakes() {
	defer c.done.Done()
	for {
		var toks []token
		select {
		case <-c.stop:
			return
		case toks = <-c.wakes:
		}
		for len(toks) > 0 {
			n := min(len(toks), maxWakeTokens)
			if err := c.nc.Publish(c.subj.wake, encodeWake(c.self, toks[:n])); err != nil {
				c.markLost()
				break
			}
			c.m.wakesSent.Add(uint64(n))
			toks = toks[n:]
		}
	}
}

func (c *Cluster) markLost() {
	c.mu.Lock()
	c.lost = true
	c.mu.Unlock()
}

func (c *Cluster) onWake(msg *nats.Msg) {
	from, toks, err := decodeWake(msg.Data)
	if err != nil {
		c.m.badFrames.Inc()
		return
	}
	n := c.local()
	if from == c.self || n == nil {
		return
	}
	if len(toks) == 0 {
		c.m.wakeAllLost.Inc()
		n.WakeAll()
		return
	}
	c.m.wakesReceived.Add(uint64(len(toks)))
	for _, t := range toks {
		if a, ok := c.addrs.open(t); ok {
			n.Wake(a)
		}
	}
}

func (c *Cluster) onAlive(msg *nats.Msg) {
	from, err := decodeAlive(msg.Data)
	if err != nil {
		c.m.badFrames.Inc()
		return
	}
	if from == c.self {
		return
	}
	c.mu.Lock()
	c.peers[from] = time.Now()
	c.m.peers.Set(int64(len(c.peers)))
	c.mu.Unlock()
}

// heartbeats says "alive" every heartbeat, notices silent peers, forgets
// old presence records, and re-reads every queue while cut off from NATS.
func (c *Cluster) heartbeats() {
	defer c.done.Done()
	t := time.NewTicker(c.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		if !c.nc.IsConnected() {
			if n := c.local(); n != nil {
				c.m.wakeAllPoll.Inc()
				n.WakeAll()
			}
			continue
		}
		c.nc.Publish(c.subj.alive, encodeAlive(c.self))
		if c.forgetSilent(time.Now()) {
			if n := c.local(); n != nil {
				c.m.wakeAllPeer.Inc()
				n.WakeAll()
			}
		}
	}
}

// forgetSilent drops peers not heard for four heartbeats, and old presence
// records; it reports whether a peer went
// silent. Such a peer may have died after a commit and before its wake
// message, so its recipients must re-read their queues.
func (c *Cluster) forgetSilent(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	silent := false
	for id, last := range c.peers {
		if now.Sub(last) > 4*c.cfg.Heartbeat {
			delete(c.peers, id)
			silent = true
		}
	}
	c.m.peers.Set(int64(len(c.peers)))
	c.forgetPresence(now)
	return silent
}

func (c *Cluster) disconnected() {
	c.m.connected.Set(0)
	c.log.Warn("lost the connection to NATS; reconnecting, and re-reading every queue each second meanwhile")
}

// reconnected re-reads every queue here (wake messages may have been missed
// while away) and, if this node's own could not be sent, tells every node to
// do the same.
func (c *Cluster) reconnected() {
	c.m.connected.Set(1)
	c.log.Info("reconnected to NATS")
	c.mu.Lock()
	lost := c.lost
	c.lost = false
	c.mu.Unlock()
	if lost {
		if err := c.nc.Publish(c.subj.wake, encodeWake(c.self, nil)); err != nil {
			c.markLost()
		}
	}
	if n := c.local(); n != nil {
		c.m.wakeAllReconnect.Inc()
		n.WakeAll()
	}
	go c.refollowPresence()
}

// asyncError handles errors NATS reports outside any call: a subscription
// that fell behind has dropped messages, so every queue is re-read.
func (c *Cluster) asyncError(err error) {
	if errors.Is(err, nats.ErrSlowConsumer) {
		if n := c.local(); n != nil {
			c.m.wakeAllLost.Inc()
			n.WakeAll()
		}
		return
	}
	c.log.Warn("NATS reported an error", "err", err)
}
