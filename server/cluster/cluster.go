// Package cluster lets any number of stateless skyd nodes serve one
// PostgreSQL database, talking to each other through NATS. It implements
// server.Cluster.
//
// PostgreSQL stays the only durable store: a message is acknowledged once it
// is committed there, and NATS never carries it. NATS carries hints:
//
//   - wake: after a commit, the node names the recipients connected elsewhere;
//     the nodes holding them re-read those queues from the database. A lost
//     hint costs latency, never a message: a node re-reads every queue it
//     serves when it reconnects to NATS, when it is told some hints were
//     lost, when a peer falls silent (it may have died between its commit and
//     its hint), and every second while it is cut off from NATS.
//   - presence: when a device authenticates, its node announces it on a small
//     JetStream stream; stream order decides which connection is newest, and
//     every other node closes its older connection of that device.
//   - rate limits: token buckets shared by all nodes, in JetStream key-value
//     buckets kept in memory that forget a key once its bucket is full again.
//
// Nothing here names a sender or holds content. Devices appear only as
// pseudonyms (an address encrypted under a key kept in the database), and
// rate-limit keys as keyed hashes; presence announcements expire after 30
// seconds and rate-limit entries once their bucket refills.
package cluster

import (
	"context"
	"crypto/aes"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/metrics"
	"github.com/skymsg/sky/server/store"
)

// DefaultName is the cluster name when Config.Name is empty.
const DefaultName = "sky"

// Config configures a node's link to its cluster.
type Config struct {
	// URL is the NATS server (nats://host:4222; several separated by
	// commas). JetStream must be enabled.
	URL string
	// Name names the cluster: every node of one cluster uses the same
	// name, and several clusters can share one NATS. Letters, digits and
	// dashes; default "sky".
	Name string
	// Store is the database the nodes share; it holds the keys that make
	// device pseudonyms and rate-limit keys.
	Store store.Store

	Logger  *slog.Logger      // default: discard
	Metrics *metrics.Registry // default: a private registry
	// Replicas is the JetStream replication of the presence stream and the
	// rate-limit buckets; default 1. Use 3 on a three-server NATS cluster.
	Replicas int
	// Heartbeat is how often a node says it is alive; a peer silent for
	// four heartbeats is presumed dead. Default 1s.
	Heartbeat time.Duration
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,32}$`)

// ErrBadName is returned for a cluster name that NATS cannot use.
var ErrBadName = errors.New("cluster: the cluster name must be 1 to 32 letters, digits or dashes")

// presenceMaxAge is how long the presence stream keeps an announcement:
// long enough for every node to read it, however busy.
const presenceMaxAge = 30 * time.Second

// Cluster is one node's link to the others. It implements server.Cluster.
type Cluster struct {
	cfg   Config
	log   *slog.Logger
	nc    *nats.Conn
	js    jetstream.JetStream
	self  nodeID
	addrs sealer
	m     *clusterMetrics

	limitKey []byte
	node     atomic.Pointer[server.Node]

	subj struct{ wake, alive, presence string }

	mu       sync.Mutex
	peers    map[nodeID]time.Time      // last heartbeat heard
	presence map[token]*devicePresence // this node's latest announcement per device
	calls    uint64                    // Connected calls so far
	lost     bool                      // a wake hint could not be published

	consumer        jetstream.ConsumeContext // reading the presence stream (under mu)
	presenceCreated time.Time                // when that stream was made
	wakes           chan []token             // recipients for publishWakes
	stop            chan struct{}
	done            sync.WaitGroup
	closed          sync.Once
}

var _ server.Cluster = (*Cluster)(nil)

// names returns the NATS names of cluster name: the stream of presence
// announcements and the prefix of its rate-limit buckets.
func names(name string) (presenceStream, bucketPrefix string) {
	return "sky_" + name + "_presence", "sky_" + name + "_limit_"
}

// Join connects to NATS, creates the cluster's presence stream if needed,
// and starts listening to the other nodes. Pass the result as
// server.Config.Cluster; Close it after the server.
func Join(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if !nameRE.MatchString(cfg.Name) {
		return nil, fmt.Errorf("%w (got %q)", ErrBadName, cfg.Name)
	}
	if cfg.Store == nil {
		return nil, errors.New("cluster: Config.Store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewRegistry()
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = time.Second
	}
	addrKey, err := cfg.Store.Secret(ctx, "cluster-address-key", 16)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	limitKey, err := cfg.Store.Secret(ctx, "cluster-limit-key", 32)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	block, err := aes.NewCipher(addrKey)
	if err != nil {
		return nil, fmt.Errorf("cluster: address key: %w", err)
	}
	c := &Cluster{
		cfg:      cfg,
		log:      cfg.Logger,
		addrs:    sealer{block},
		m:        newMetrics(cfg.Metrics),
		limitKey: limitKey,
		peers:    map[nodeID]time.Time{},
		presence: map[token]*devicePresence{},
		wakes:    make(chan []token, wakeQueue),
		stop:     make(chan struct{}),
	}
	rand.Read(c.self[:])
	prefix := "sky." + cfg.Name + "."
	c.subj.wake, c.subj.alive, c.subj.presence = prefix+"wake", prefix+"alive", prefix+"presence"
	if err := c.connect(ctx); err != nil {
		c.Close()
		return nil, err
	}
	c.done.Add(2)
	go c.heartbeats()
	go c.publishWakes()
	return c, nil
}

// connect links to NATS. A NATS that does not answer yet does not stop the
// node: it starts degraded, as a running node goes on through an outage
// (re-reading every queue each heartbeat, rate limits per node), and joins
// when NATS answers.
func (c *Cluster) connect(ctx context.Context) error {
	ready := make(chan struct{}) // c.nc and c.js are set
	defer close(ready)
	var degraded bool // set before ready is closed
	nc, err := nats.Connect(c.cfg.URL,
		nats.Name("skyd"),
		nats.RetryOnFailedConnect(true),
		nats.ConnectHandler(func(*nats.Conn) {
			if <-ready; degraded {
				c.log.Info("NATS answers now: joined the cluster")
				c.reconnected()
			}
		}),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		// A NATS server that stops answering is noticed within about 4 s.
		nats.PingInterval(2*time.Second),
		nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { c.disconnected() }),
		nats.ReconnectHandler(func(*nats.Conn) { c.reconnected() }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { c.asyncError(err) }),
	)
	if err != nil {
		return fmt.Errorf("cluster: connecting to NATS at %s: %w (is nats-server running with JetStream, -js?)", c.cfg.URL, err)
	}
	c.nc = nc
	if c.js, err = jetstream.New(nc); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if _, err := nc.Subscribe(c.subj.wake, c.onWake); err != nil {
		return fmt.Errorf("cluster: subscribing to %s: %w", c.subj.wake, err)
	}
	if _, err := nc.Subscribe(c.subj.alive, c.onAlive); err != nil {
		return fmt.Errorf("cluster: subscribing to %s: %w", c.subj.alive, err)
	}
	if !nc.IsConnected() {
		// The subscriptions are sent once connected; the presence stream
		// is followed then (reconnected).
		degraded = true
		c.m.connected.Set(0)
		c.log.Warn("NATS does not answer at " + c.cfg.URL + ": serving degraded (every queue re-read each second, rate limits per node) until it does")
		return nil
	}
	c.m.connected.Set(1)
	return c.followPresence(ctx)
}

// Linked reports whether the node is connected to NATS now.
func (c *Cluster) Linked() bool { return c.nc.IsConnected() }

// Name returns the cluster's name.
func (c *Cluster) Name() string { return c.cfg.Name }

// Attach implements server.Cluster.
func (c *Cluster) Attach(n server.Node) { c.node.Store(&n) }

// local returns the attached node, or nil before Attach.
func (c *Cluster) local() server.Node {
	if p := c.node.Load(); p != nil {
		return *p
	}
	return nil
}

// Close leaves the cluster: it stops listening and closes the NATS
// connection. The cluster's streams stay for the other nodes.
func (c *Cluster) Close() error {
	c.closed.Do(func() {
		close(c.stop)
		c.done.Wait()
		c.mu.Lock()
		cc := c.consumer
		c.mu.Unlock()
		if cc != nil {
			cc.Stop()
		}
		if c.nc != nil {
			c.nc.Close()
		}
		c.m.connected.Set(0)
	})
	return nil
}

// Remove deletes everything cluster name keeps in the NATS at url: its
// presence stream and its rate-limit buckets. Run it only when no node of
// that cluster is running.
func Remove(ctx context.Context, url, name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w (got %q)", ErrBadName, name)
	}
	nc, err := nats.Connect(url, nats.Name("skyd cluster removal"))
	if err != nil {
		return fmt.Errorf("cluster: connecting to NATS at %s: %w", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	presence, buckets := names(name)
	var doomed []string
	lister := js.StreamNames(ctx)
	for s := range lister.Name() {
		if s == presence || len(s) > len("KV_"+buckets) && s[:len("KV_"+buckets)] == "KV_"+buckets {
			doomed = append(doomed, s)
		}
	}
	if err := lister.Err(); err != nil {
		return fmt.Errorf("cluster: listing streams: %w", err)
	}
	for _, s := range doomed {
		if err := js.DeleteStream(ctx, s); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("cluster: deleting stream %s: %w", s, err)
		}
	}
	return nil
}
