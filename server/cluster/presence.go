package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/skymsg/sky/server/store"
)

// Presence: the newest connection of a device wins, cluster-wide.
//
// A node that authenticates a device publishes an announcement to the
// presence stream before it answers the client, and every node reads the
// stream in order. The stream's sequence numbers are the cluster's order of
// connections: a client that opens a new connection after its previous one
// was accepted is always announced later. When a node reads another node's
// announcement for a device it holds with an older sequence number than the
// other's, it closes its connection. So a node keeps, per device, the
// sequence number of its own latest announcement, for as long as an older
// one from elsewhere could still be on its way (the stream's lifetime).

// devicePresence is what a node remembers about one device's latest local
// announcement.
type devicePresence struct {
	call       uint64    // which Connected call this is (several may race)
	gen        uint64    // its stream sequence; 0 while being published
	lastRemote uint64    // newest other node's announcement read meanwhile
	at         time.Time // when it was announced
}

// followPresence creates the presence stream if needed and starts reading
// it from now on.
func (c *Cluster) followPresence(ctx context.Context) error {
	stream, _ := names(c.cfg.Name)
	st, err := c.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        stream,
		Description: "skyd: which node each device connected to last (pseudonymous, short-lived)",
		Subjects:    []string{c.subj.presence},
		Storage:     jetstream.MemoryStorage,
		Replicas:    c.cfg.Replicas,
		MaxAge:      presenceMaxAge,
		MaxBytes:    64 << 20,
		Discard:     jetstream.DiscardOld,
	})
	if err != nil {
		return fmt.Errorf("cluster: creating the presence stream %s: %w (is JetStream enabled on NATS?)", stream, err)
	}
	cons, err := c.js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		return fmt.Errorf("cluster: reading the presence stream: %w", err)
	}
	cc, err := cons.Consume(c.onPresence)
	if err != nil {
		return fmt.Errorf("cluster: reading the presence stream: %w", err)
	}
	c.mu.Lock()
	old := c.consumer
	c.consumer, c.presenceCreated = cc, st.CachedInfo().Created
	c.mu.Unlock()
	if old != nil {
		old.Stop()
	}
	return nil
}

// refollowPresence runs after a reconnection to NATS. A NATS server that
// restarted has lost the presence stream (it is kept in memory), and a
// stream made anew numbers its messages from 1 again, which a consumer
// waiting for the next number of the old one would never see; so when the
// stream is gone or new, it is created and read again from now on.
func (c *Cluster) refollowPresence() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, _ := names(c.cfg.Name)
	st, err := c.js.Stream(ctx, stream)
	if err == nil {
		c.mu.Lock()
		same := st.CachedInfo().Created.Equal(c.presenceCreated)
		c.mu.Unlock()
		if same {
			return // the ordered consumer resumes by itself
		}
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		c.log.Warn("could not check the presence stream after reconnecting", "err", err)
		return
	}
	if err := c.followPresence(ctx); err != nil {
		c.log.Error("could not read the presence stream again; newer connections on other nodes will not close older ones here until this node restarts", "err", err)
	}
}

// Connected implements server.Cluster. It returns once the announcement
// is in the stream (or could not be made: then other nodes keep older
// connections of this device until it connects again; nothing is lost, the
// device may be pushed a message on two connections and drops the copy by
// its ID).
func (c *Cluster) Connected(a store.Address) {
	tok, ok := c.addrs.seal(a)
	if !ok || !c.nc.IsConnected() {
		return
	}
	an := announcement{from: c.self, kind: kindConnected, tok: tok}
	c.mu.Lock()
	c.calls++
	call := c.calls
	c.presence[tok] = &devicePresence{call: call, at: time.Now()}
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	ack, err := c.js.Publish(ctx, c.subj.presence, an.encode())
	cancel()

	c.mu.Lock()
	p := c.presence[tok]
	if p == nil || p.call != call {
		c.mu.Unlock() // a newer local connection of this device took over
		return
	}
	if err != nil {
		delete(c.presence, tok)
		c.mu.Unlock()
		c.log.Warn("could not announce a connection to the other nodes", "err", err)
		return
	}
	p.gen = ack.Sequence
	superseded := p.lastRemote > p.gen
	c.mu.Unlock()
	if superseded {
		c.evict(a) // it connected elsewhere while this was announced
	}
}

func (c *Cluster) evict(a store.Address) {
	if n := c.local(); n != nil && n.Evict(a) {
		c.m.evictions.Inc()
	}
}

// AccountDeleted implements server.Cluster.
func (c *Cluster) AccountDeleted(account string) {
	tok, ok := c.addrs.seal(store.Address{Account: account})
	if !ok {
		return
	}
	an := announcement{from: c.self, kind: kindAccountDeleted, tok: tok}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.js.Publish(ctx, c.subj.presence, an.encode()); err != nil {
		c.log.Warn("could not tell the other nodes about a deleted account; its connections there close when they next check it", "err", err)
	}
}

func (c *Cluster) onPresence(msg jetstream.Msg) {
	an, err := decodeAnnouncement(msg.Data())
	if err != nil {
		c.m.badFrames.Inc()
		return
	}
	md, err := msg.Metadata()
	if err != nil {
		c.m.badFrames.Inc()
		return
	}
	a, ok := c.addrs.open(an.tok)
	if !ok {
		c.m.badFrames.Inc()
		return
	}
	if an.from == c.self {
		return
	}
	switch an.kind {
	case kindAccountDeleted:
		if n := c.local(); n != nil {
			n.EvictAccount(a.Account)
		}
	case kindConnected:
		seq := md.Sequence.Stream
		switch c.compare(an.tok, seq) {
		case olderHere:
			c.evict(a)
		case unknownHere:
			// The device may have been bound here a moment ago by a
			// connection not yet registered with Connected; look again
			// once it must have been.
			time.AfterFunc(evictDelay, func() {
				if c.compare(an.tok, seq) != newerHere {
					c.evict(a)
				}
			})
		}
	}
}

// evictDelay is how long an announcement for a device this node knows
// nothing about waits before it closes the device's connection here.
const evictDelay = 100 * time.Millisecond

const (
	unknownHere = iota // no announcement of this node's is remembered
	olderHere          // this node's connection is older: close it
	newerHere          // newer, or being announced (Connected decides)
)

// compare relates this node's latest announcement of a device to another
// node's announcement seq.
func (c *Cluster) compare(tok token, seq uint64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.presence[tok]
	switch {
	case p == nil:
		return unknownHere
	case p.gen == 0:
		p.lastRemote = max(p.lastRemote, seq)
		return newerHere
	case p.gen > seq:
		return newerHere
	}
	return olderHere
}

// forgetPresence drops what is known about announcements older than the
// stream's lifetime: every older announcement has been read by then. c.mu
// is held.
func (c *Cluster) forgetPresence(now time.Time) {
	for t, p := range c.presence {
		if p.gen != 0 && now.Sub(p.at) > presenceMaxAge {
			delete(c.presence, t)
		}
	}
}
