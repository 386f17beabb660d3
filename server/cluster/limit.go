package cluster

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/skymsg/sky/server"
)

// Shared rate limits are GCRA token buckets (the "generic cell rate
// algorithm"): each key stores one number, its theoretical arrival time
// (TAT). Taking a token moves TAT to max(TAT, now) + interval, allowed while
// TAT − now stays within burst × interval. The number lives in a JetStream
// key-value bucket (memory storage) and is changed by compare-and-set, so
// every node spends from the same bucket. A bucket left alone for
// burst × interval is full again, and the key-value bucket forgets it then.
//
// A round trip per token would cost a busy node more than the sends it
// limits, so a node takes a lease of up to burst/50 tokens at once (one for
// small bursts) and spends it locally within the time those tokens take to
// refill. The limit then holds across nodes to within one lease per node:
// 20 of the default 1,000-message send burst.

// limitTimeout bounds one shared check; after it the node uses its own
// buckets (see server.SharedLimiter).
const limitTimeout = time.Second

// limitRetries bounds compare-and-set retries under contention. Takes of
// one key on one node are serialised (see limit.stripes), so only other
// nodes contend.
const limitRetries = 16

// limitStripes is how many locks serialise takes on one node, by key.
const limitStripes = 256

// leaseFraction and maxLease size a lease: burst/leaseFraction tokens, at
// least 1 and at most maxLease.
const (
	leaseFraction = 50
	maxLease      = 1000
)

// Limiter implements server.Cluster.
func (c *Cluster) Limiter(name string, r server.Rate) server.SharedLimiter {
	interval := time.Duration(float64(time.Second) / r.Per)
	l := &limit{
		c:        c,
		name:     name,
		interval: interval,
		span:     interval * time.Duration(r.Burst),
		lease:    min(max(r.Burst/leaseFraction, 1), maxLease),
		cache:    map[string]cached{},
	}
	_, prefix := names(c.cfg.Name)
	l.bucketName = prefix + name
	return l
}

type limit struct {
	c          *Cluster
	name       string
	bucketName string
	interval   time.Duration // between tokens
	span       time.Duration // burst × interval: from empty to full
	lease      int           // tokens taken from the shared bucket at once

	stripes [limitStripes]sync.Mutex

	mu      sync.Mutex
	kv      jetstream.KeyValue
	retryAt time.Time         // until then, fail at once (after an error)
	backoff time.Duration     // how long the next failure waits
	cache   map[string]cached // last TAT this node read or wrote, per key
}

// cached is a key's TAT and its revision in the key-value bucket. Other
// nodes only move TAT forward, so a cached TAT is never later than the
// truth: a refusal based on it is always right, and a stale revision only
// costs a retry.
type cached struct {
	tat  int64 // unix nanoseconds
	rev  uint64
	seen time.Time

	leased     int   // tokens of this node's lease left
	leaseUntil int64 // unix nanoseconds (the limit's clock) the lease is good until
}

var (
	errLimitBusy    = errors.New("cluster: shared rate limit contended; try again")
	errNotConnected = errors.New("cluster: not connected to NATS")
)

// Take implements server.SharedLimiter.
func (l *limit) Take(key string, now time.Time) (time.Duration, bool, error) {
	wait, ok, err := l.take(key, now)
	if err != nil {
		l.c.m.limitErrors.Inc()
	}
	return wait, ok, err
}

func (l *limit) take(key string, now time.Time) (time.Duration, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limitTimeout)
	defer cancel()
	kv, err := l.bucket(ctx)
	if err != nil {
		return 0, false, err
	}
	k, stripe := l.key(key)
	l.stripes[stripe].Lock()
	defer l.stripes[stripe].Unlock()
	t := now.UnixNano()
	if e, ok := l.cached(k); ok && e.leased > 0 && t < e.leaseUntil {
		e.leased--
		l.remember(k, e)
		return 0, true, nil
	}
	for try := range limitRetries {
		if try > 0 {
			time.Sleep(jitter(time.Millisecond << min(try, 4)))
		}
		e, ok := l.cached(k)
		if !ok {
			if e, err = l.read(ctx, kv, k); err != nil {
				return 0, false, err
			}
		}
		// As many tokens as the bucket holds, up to a lease.
		start := max(e.tat, t)
		n := min(int64(l.lease), (int64(l.span)-(start-t))/int64(l.interval))
		if n < 1 {
			return time.Duration(start + int64(l.interval) - t - int64(l.span)), false, nil
		}
		tat := start + n*int64(l.interval)
		val := binary.BigEndian.AppendUint64(nil, uint64(tat))
		var rev uint64
		if e.rev == 0 {
			rev, err = kv.Create(ctx, k, val)
		} else {
			rev, err = kv.Update(ctx, k, val, e.rev)
		}
		switch {
		case err == nil:
			l.succeeded()
			l.remember(k, cached{tat: tat, rev: rev, seen: time.Now(), leased: int(n) - 1, leaseUntil: t + n*int64(l.interval)})
			return 0, true, nil
		case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			l.forget(k) // another node moved first: read and retry
		default:
			l.lost(kv)
			return 0, false, fmt.Errorf("cluster: rate limit %s: %w", l.name, err)
		}
	}
	return 0, false, errLimitBusy
}

// read fetches a key's TAT; a missing key is a full bucket.
func (l *limit) read(ctx context.Context, kv jetstream.KeyValue, k string) (cached, error) {
	entry, err := kv.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return cached{}, nil
	}
	if err != nil {
		l.lost(kv)
		return cached{}, fmt.Errorf("cluster: rate limit %s: %w", l.name, err)
	}
	if len(entry.Value()) != 8 {
		return cached{rev: entry.Revision()}, nil // not ours: overwrite it
	}
	return cached{tat: int64(binary.BigEndian.Uint64(entry.Value())), rev: entry.Revision()}, nil
}

// key is what the bucket stores for key: a keyed hash, so the bucket holds
// no account IDs. It also picks the key's lock stripe.
func (l *limit) key(key string) (string, int) {
	m := hmac.New(sha256.New, l.c.limitKey)
	m.Write([]byte(l.name))
	m.Write([]byte{0})
	m.Write([]byte(key))
	sum := m.Sum(nil)
	return hex.EncodeToString(sum[:16]), int(sum[16]) % limitStripes
}

// bucket returns the key-value bucket, creating it on first use. After an
// error it fails at once for a second, then for longer up to 10 s while the
// errors go on, so that sends do not each wait for a NATS that stalled.
func (l *limit) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	if !l.c.nc.IsConnected() {
		return nil, errNotConnected
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Now().Before(l.retryAt) {
		return nil, fmt.Errorf("cluster: rate-limit bucket %s unavailable", l.bucketName)
	}
	if l.kv != nil {
		return l.kv, nil
	}
	kv, err := l.c.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      l.bucketName,
		Description: "skyd: shared rate-limit buckets (keyed hashes, forgotten when full)",
		History:     1,
		TTL:         l.span + time.Second,
		Storage:     jetstream.MemoryStorage,
		Replicas:    l.c.cfg.Replicas,
		MaxBytes:    64 << 20,
	})
	if err != nil {
		l.failedLocked()
		return nil, fmt.Errorf("cluster: creating rate-limit bucket %s: %w", l.bucketName, err)
	}
	l.kv = kv
	return kv, nil
}

// failedLocked starts or lengthens a pause after an error. l.mu is held.
func (l *limit) failedLocked() {
	l.backoff = min(max(2*l.backoff, time.Second), 10*time.Second)
	l.retryAt = time.Now().Add(l.backoff)
}

// succeeded ends the backoff.
func (l *limit) succeeded() {
	l.mu.Lock()
	l.backoff = 0
	l.mu.Unlock()
}

// lost forgets the bucket kv after an error, so that a later take creates
// it again (a NATS server that restarted has lost it), and pauses.
func (l *limit) lost(kv jetstream.KeyValue) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kv == kv {
		l.kv = nil
		l.failedLocked()
	}
}

func (l *limit) cached(k string) (cached, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.cache[k]
	return e, ok
}

func (l *limit) forget(k string) {
	l.mu.Lock()
	delete(l.cache, k)
	l.mu.Unlock()
}

// remember caches a key's state, dropping entries older than the bucket's
// lifetime now and then so the cache stays as small as the bucket.
func (l *limit) remember(k string, e cached) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.cache) >= 4096 {
		for ck, ce := range l.cache {
			if e.seen.Sub(ce.seen) > l.span+time.Second {
				delete(l.cache, ck)
			}
		}
	}
	l.cache[k] = e
}

// jitter returns a random pause in [0, n) for contention retries, drawn
// from crypto/rand as all of Sky's randomness is.
func jitter(n time.Duration) time.Duration {
	var b [8]byte
	rand.Read(b[:])
	return time.Duration(binary.LittleEndian.Uint64(b[:]) % uint64(n))
}

// TakeN implements server.SharedQuota: n tokens at once, straight from the
// shared bucket. It takes no lease: a quota's takes are few and large, and
// a lease would let each node spend ahead of the others.
func (l *limit) TakeN(key string, n int64, now time.Time) (time.Duration, bool, error) {
	wait, ok, err := l.takeN(key, n, now)
	if err != nil {
		l.c.m.limitErrors.Inc()
	}
	return wait, ok, err
}

func (l *limit) takeN(key string, n int64, now time.Time) (time.Duration, bool, error) {
	if n < 1 || n > int64(l.span/l.interval) {
		return 24 * time.Hour, n < 1, nil // nothing to take, or more than the bucket holds
	}
	ctx, cancel := context.WithTimeout(context.Background(), limitTimeout)
	defer cancel()
	kv, err := l.bucket(ctx)
	if err != nil {
		return 0, false, err
	}
	k, stripe := l.key(key)
	l.stripes[stripe].Lock()
	defer l.stripes[stripe].Unlock()
	t, cost := now.UnixNano(), n*int64(l.interval)
	for try := range limitRetries {
		if try > 0 {
			time.Sleep(jitter(time.Millisecond << min(try, 4)))
		}
		e, ok := l.cached(k)
		if !ok {
			if e, err = l.read(ctx, kv, k); err != nil {
				return 0, false, err
			}
		}
		start := max(e.tat, t)
		if start+cost-t > int64(l.span) {
			return time.Duration(start + cost - t - int64(l.span)), false, nil
		}
		val := binary.BigEndian.AppendUint64(nil, uint64(start+cost))
		var rev uint64
		if e.rev == 0 {
			rev, err = kv.Create(ctx, k, val)
		} else {
			rev, err = kv.Update(ctx, k, val, e.rev)
		}
		switch {
		case err == nil:
			l.succeeded()
			l.remember(k, cached{tat: start + cost, rev: rev, seen: time.Now()})
			return 0, true, nil
		case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			l.forget(k)
		default:
			l.lost(kv)
			return 0, false, fmt.Errorf("cluster: quota %s: %w", l.name, err)
		}
	}
	return 0, false, errLimitBusy
}
