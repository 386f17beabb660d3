// Package server is skyd: it accepts WebSocket connections speaking the
// wire protocol, authenticates devices by signature, registers accounts
// with activation codes, runs the prekey directory, and stores and forwards
// opaque ciphertext with a hard time-to-live.
//
// Durability comes from group commit: every send and acknowledgement, from
// every connection, joins the next batch, and each batch is one store
// transaction (one fsync). A sender is told "sent" only after its batch has
// committed; recipients get the messages pushed right after.
//
// The server never sees plaintext: message bodies and key blobs are opaque,
// size-checked bytes. Logs and metrics carry no account IDs, no addresses
// and no sizes.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skymsg/sky/server/keydir"
	"github.com/skymsg/sky/server/metrics"
	"github.com/skymsg/sky/server/netpoll"
	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/wire"
)

// Clock tells the time. Tests use a manual one to cross the 48-hour TTL.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Defaults for Config fields left zero.
const (
	DefaultMessageTTL     = 48 * time.Hour
	MaxMessageTTL         = 30 * 24 * time.Hour
	DefaultQueueCap       = 10000
	DefaultMaxConnections = 100000
	DefaultMaxInflight    = 256
	// DefaultTimeGranularity is what stored receive times are rounded
	// down to.
	DefaultTimeGranularity = time.Hour
)

// Config configures a Server. Only Store is required.
type Config struct {
	Store   store.Store
	Clock   Clock             // default: the system clock
	Logger  *slog.Logger      // default: discard
	Metrics *metrics.Registry // default: a private registry

	MessageTTL    time.Duration // default 48h; at most 30 days
	SweepInterval time.Duration // default 1 minute
	QueueCap      int           // messages per device queue; default 10000

	MaxConnections   int           // default 100000
	MaxInflight      int           // unanswered requests per connection; default 256
	HandshakeTimeout time.Duration // Hello and authentication; default 10s
	WriteTimeout     time.Duration // a client that does not read for this long is dropped; default 10s
	// IdleAfter is how long a connection may be quiet before it gives back
	// its read buffer and goroutine until the client sends again (on Linux;
	// elsewhere every connection keeps a goroutine). Default 1s; negative
	// keeps a goroutine per connection everywhere.
	IdleAfter time.Duration

	// Rate limits. Zero values take the defaults below.
	ConnRate   Rate // requests per connection; default 200/s, burst 400
	SendRate   Rate // sends per account; default 100/s, burst 1000
	BundleRate Rate // bundle fetches per requester–target pair; default 1/min, burst 10
	// PreKeyUploadRate bounds prekey uploads per account (requests), and
	// PreKeyByteRate their key and signature bytes; defaults 1 per 5s,
	// burst 20, and 16 KiB/s, burst 1 MiB (a full set of 100 + 100 keys
	// is about 170 KB). Kept per node.
	PreKeyUploadRate, PreKeyByteRate Rate
	// BundleTargetRate bounds the fetches per target account, from all
	// requesters together, that consume one-time prekeys; later ones get
	// bundles without them. Default 1/min, burst 50.
	BundleTargetRate Rate
	RegisterRate     Rate // well-formed, signed registration attempts, server-wide; default 5/s, burst 20
	CodeFailRate     Rate // unknown or expired activation codes per source address; default 6/min, burst 5
	AuthFailRate     Rate // failed authentications per source address; default 1/s, burst 30
	TokenFailRate    Rate // wrong delivery tokens per source address; default 10/s, burst 100
	// Sealed delivery (see sealed.go). Zero values take the defaults.
	SealedRate    Rate // sealed sends per anonymous connection; default 50/s, burst 200
	RecipientRate Rate // sealed sends with a token per recipient account; default 100/s, burst 1000
	RequestRate   Rate // sealed requests (first contacts) per sender account; default 6/min, burst 50
	// RequestInRate bounds sealed requests per recipient account, from all
	// senders together, so strangers share at most a part of a queue;
	// default 1/min, burst QueueCap/10.
	RequestInRate Rate
	// AccessRequestRate bounds access requests (access.go) per source
	// address, in memory only; default 1/min, burst 10.
	AccessRequestRate Rate
	// SenderCertLifetime is how long a sender certificate is valid;
	// default 24h.
	SenderCertLifetime time.Duration
	// AnonymousLifetime is the longest an anonymous connection stays
	// open; default 30 seconds (a client opens one per outbox pass).
	AnonymousLifetime time.Duration
	// FrameTimeout is how long a client may take to send one frame (or
	// fragmented message), from its first byte; default 30s.
	FrameTimeout time.Duration
	// FrameMemory bounds, server-wide, the bytes held for frames being
	// received beyond each reading connection's pooled 16 KiB buffer;
	// anonymous connections may hold a quarter of it. A frame that does
	// not fit closes its connection with "try again later". Default 128 MiB.
	FrameMemory int64
	// MaxUnauthenticatedPerAddress bounds the connections from one source
	// address (IPv6: one /64) that have not authenticated, anonymous ones
	// included. Default 1024; negative: no limit (behind a reverse proxy
	// every connection comes from the proxy's address). The counts are
	// kept in memory only, never logged or stored.
	MaxUnauthenticatedPerAddress int
	// TimeGranularity is what stored times are rounded down to: a queued
	// message's receive time, so an undelivered message is deleted between
	// MessageTTL − TimeGranularity and MessageTTL after it arrived. Default
	// 1 hour, at most MessageTTL/24, at least 1 second.
	TimeGranularity time.Duration

	// Cluster links this node to others sharing Store (see Cluster); nil
	// runs a node on its own.
	Cluster Cluster

	Blobs BlobConfig // attachments (blobs.go); off without a Store

	KeyDir KeyDirConfig // the key directory (keydir.go)

	// MaxDevices is how many devices one account may have linked at once
	// (devices.go); default 5, at most DeviceLimit.
	MaxDevices int
}

func (c *Config) setDefaults() error {
	if c.Store == nil {
		return errors.New("server: Config.Store is required")
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = metrics.NewRegistry()
	}
	if c.MessageTTL == 0 {
		c.MessageTTL = DefaultMessageTTL
	}
	if c.MessageTTL < time.Second || c.MessageTTL > MaxMessageTTL {
		return fmt.Errorf("server: message TTL %v out of range: use between 1s and %v", c.MessageTTL, MaxMessageTTL)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.SweepInterval, time.Minute)
	def(&c.HandshakeTimeout, 10*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	if c.IdleAfter == 0 {
		c.IdleAfter = time.Second
	}
	defInt := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt(&c.QueueCap, DefaultQueueCap)
	defInt(&c.MaxConnections, DefaultMaxConnections)
	defInt(&c.MaxInflight, DefaultMaxInflight)
	defRate := func(r *Rate, v Rate) {
		if r.Per <= 0 || r.Burst <= 0 {
			*r = v
		}
	}
	defRate(&c.ConnRate, Rate{Per: 200, Burst: 400})
	defRate(&c.SendRate, Rate{Per: 100, Burst: 1000})
	defRate(&c.BundleRate, Rate{Per: 1.0 / 60, Burst: 10})
	defRate(&c.BundleTargetRate, Rate{Per: 1.0 / 60, Burst: 50})
	defRate(&c.PreKeyUploadRate, Rate{Per: 0.2, Burst: 20})
	defRate(&c.PreKeyByteRate, Rate{Per: 16 << 10, Burst: 1 << 20})
	defRate(&c.RegisterRate, Rate{Per: 5, Burst: 20})
	defRate(&c.CodeFailRate, Rate{Per: 0.1, Burst: 5})
	defRate(&c.AuthFailRate, Rate{Per: 1, Burst: 30})
	defRate(&c.TokenFailRate, Rate{Per: 10, Burst: 100})
	defRate(&c.SealedRate, Rate{Per: 50, Burst: 200})
	defRate(&c.RecipientRate, Rate{Per: 100, Burst: 1000})
	defRate(&c.RequestRate, Rate{Per: 0.1, Burst: 50})
	defRate(&c.AccessRequestRate, Rate{Per: 1.0 / 60, Burst: 10})
	defRate(&c.RequestInRate, Rate{Per: 1.0 / 60, Burst: max(c.QueueCap/10, 1)})
	def(&c.SenderCertLifetime, DefaultSenderCertLifetime)
	def(&c.AnonymousLifetime, 30*time.Second)
	def(&c.FrameTimeout, DefaultFrameTimeout)
	if c.FrameMemory <= 0 {
		c.FrameMemory = DefaultFrameMemory
	}
	if c.MaxUnauthenticatedPerAddress == 0 {
		c.MaxUnauthenticatedPerAddress = DefaultMaxUnauthenticatedPerAddress
	}
	def(&c.TimeGranularity, DefaultTimeGranularity)
	if c.MaxDevices == 0 {
		c.MaxDevices = DefaultMaxDevices
	}
	if c.MaxDevices < 1 || c.MaxDevices > DeviceLimit {
		return fmt.Errorf("server: at most %d linked devices per account can be allowed, and at least 1 (got %d)", DeviceLimit, c.MaxDevices)
	}
	c.TimeGranularity = max(min(c.TimeGranularity, c.MessageTTL/24), time.Second).Truncate(time.Second)
	return nil
}

// Server is a running skyd. Serve its Handler over HTTP(S); call Close to
// stop it.
type Server struct {
	cfg    Config
	st     store.Store
	ids    *idCodec
	log    *slog.Logger
	m      *serverMetrics
	hub    *hub
	batch  *batcher
	poller *netpoll.Poller // nil where unsupported or Config.IdleAfter < 0
	adm    *admission
	frames *frameBudget

	cluster        Cluster // nil on a node of its own
	sendLimit      limiter
	bundleLimit    limiter
	bundleTarget   limiter // fetches consuming one-time prekeys, per target
	registerLimit  limiter
	codeFailLimit  *keyedLimiter // per source address, in memory only (never clustered)
	authFailLimit  *keyedLimiter // per source address, in memory only (never clustered)
	tokenFailLimit *keyedLimiter // per source address, in memory only (never clustered)
	accessAskLimit *keyedLimiter // access requests per source address, in memory only
	verifiers      verifierCache // delivery verifiers that just matched (verifiers.go)
	uploadLimit    *keyedLimiter // prekey uploads per account, this node
	uploadBytes    *keyedLimiter // prekey upload bytes per account, this node
	sealedLimit    limiter       // sealed sends with a token, per recipient
	requestLimit   limiter       // sealed requests, per sender
	requestIn      limiter       // sealed requests, per recipient
	sealed         atomic.Pointer[sealedState]
	blobs          *blobState  // nil: no attachments
	kd             *keydir.Dir // nil: no key directory (keydir.go)

	conns    atomic.Int64
	ctx      context.Context // cancelled by Close
	cancel   context.CancelFunc
	wg       sync.WaitGroup // background loops
	connWG   sync.WaitGroup // connection handlers
	closeOne sync.Once
}

// New starts a server on cfg.Store: it runs the expiry sweeper once, then
// starts the group-commit writer and the periodic sweeper.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	key, err := cfg.Store.Secret(ctx, "message-id-key", 16)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	ids, err := newIDCodec(key)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s := &Server{
		cfg:     cfg,
		st:      cfg.Store,
		ids:     ids,
		log:     cfg.Logger,
		m:       newServerMetrics(cfg.Metrics),
		hub:     newHub(),
		adm:     newAdmission(cfg.MaxUnauthenticatedPerAddress),
		frames:  newFrameBudget(cfg.FrameMemory),
		cluster: cfg.Cluster,
	}
	s.sendLimit = s.newLimiter("send", cfg.SendRate)
	s.bundleLimit = s.newLimiter("bundle", cfg.BundleRate)
	s.bundleTarget = s.newLimiter("bundle-target", cfg.BundleTargetRate)
	s.registerLimit = s.newLimiter("register", cfg.RegisterRate)
	s.codeFailLimit = newKeyedLimiter(cfg.CodeFailRate)
	s.authFailLimit = newKeyedLimiter(cfg.AuthFailRate)
	s.tokenFailLimit = newKeyedLimiter(cfg.TokenFailRate)
	s.accessAskLimit = newKeyedLimiter(cfg.AccessRequestRate)
	s.uploadLimit = newKeyedLimiter(cfg.PreKeyUploadRate)
	s.uploadBytes = newKeyedLimiter(cfg.PreKeyByteRate)
	s.sealedLimit = s.newLimiter("sealed", cfg.RecipientRate)
	s.requestLimit = s.newLimiter("request", cfg.RequestRate)
	s.requestIn = s.newLimiter("request-in", cfg.RequestInRate)
	if err := s.initBlobs(); err != nil {
		return nil, err
	}
	if err := s.sweep(ctx); err != nil {
		return nil, fmt.Errorf("server: first expiry sweep: %w", err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.batch = newBatcher(s)
	if cfg.IdleAfter > 0 {
		if s.poller, err = netpoll.New(); err != nil {
			s.poller = nil
			if !errors.Is(err, netpoll.ErrUnsupported) {
				s.log.Warn("no poller for idle connections; each keeps a goroutine", "err", err)
			}
		}
	}
	cfg.Metrics.GaugeFunc("skyd_connections_parked", "Idle connections waiting in the poller, with no goroutine or buffer of their own.", func() float64 {
		if s.poller == nil {
			return 0
		}
		return float64(s.poller.Len())
	})
	if s.cluster != nil {
		s.cluster.Attach(clusterNode{s})
	}
	if err := s.startKeyDir(ctx); err != nil {
		return nil, err
	}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.batch.run() }()
	go func() { defer s.wg.Done(); s.sweepLoop() }()
	return s, nil
}

// Handler returns the HTTP handler serving the WebSocket endpoint
// (wire.Path).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(wire.Path, s.serveWS)
	return mux
}

// HTTPServer returns an http.Server for Handler with skyd's timeouts: slow
// or oversized request headers are refused before any WebSocket exists.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.cfg.HandshakeTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          httpErrorLog(s.log),
	}
}

// Close disconnects every client (telling them the server is going away),
// commits what is already queued for writing, and stops the background
// loops. It does not close the store.
func (s *Server) Close() error {
	s.closeOne.Do(func() {
		s.hub.closeAll()
		s.cancel()
		s.connWG.Wait()
		s.wg.Wait()
		if s.poller != nil {
			s.poller.Close()
		}
	})
	return nil
}

func (s *Server) now() time.Time { return s.cfg.Clock.Now() }

// cutoff is the receive time at or before which messages are expired.
func (s *Server) cutoff() time.Time { return s.now().Add(-s.cfg.MessageTTL) }

// Sweep deletes expired messages and activation codes now.
func (s *Server) Sweep(ctx context.Context) error { return s.sweep(ctx) }

func (s *Server) sweep(ctx context.Context) error {
	start := time.Now()
	n, err := s.st.Sweep(ctx, s.cutoff())
	if err != nil {
		return err
	}
	s.m.expired.Add(uint64(n))
	if _, err := s.st.SweepCodes(ctx, s.now()); err != nil {
		return err
	}
	if _, err := s.st.SweepLinks(ctx, s.now()); err != nil {
		return err
	}
	if err := s.sweepBlobs(ctx); err != nil {
		return err
	}
	now := s.now()
	s.sendLimit.prune(now)
	s.bundleLimit.prune(now)
	s.bundleTarget.prune(now)
	s.registerLimit.prune(now)
	s.codeFailLimit.prune(now)
	s.authFailLimit.prune(now)
	s.tokenFailLimit.prune(now)
	s.accessAskLimit.prune(now)
	s.uploadLimit.prune(now)
	s.uploadBytes.prune(now)
	s.sealedLimit.prune(now)
	s.requestLimit.prune(now)
	s.requestIn.prune(now)
	s.loadSealedState(ctx)
	s.m.sweepSeconds.ObserveSince(start)
	if n > 0 {
		s.log.Info("expired undelivered messages", "count", n)
	}
	return nil
}

func (s *Server) sweepLoop() {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			if err := s.sweep(s.ctx); err != nil && s.ctx.Err() == nil {
				s.log.Error("expiry sweep failed; will retry", "err", err)
			}
		}
	}
}
