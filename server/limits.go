package server

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rate is a token bucket: Per events per second on average, bursts of Burst.
type Rate struct {
	Per   float64
	Burst int
}

func (r Rate) limiter() *rate.Limiter { return rate.NewLimiter(rate.Limit(r.Per), r.Burst) }

// take spends one token of l at now, or returns how long to wait for one.
func take(l *rate.Limiter, now time.Time) (wait time.Duration, ok bool) { return takeN(l, 1, now) }

// takeN spends n tokens of l at now, or returns how long to wait for them
// (a minute when n is over the burst: never).
func takeN(l *rate.Limiter, n int, now time.Time) (wait time.Duration, ok bool) {
	res := l.ReserveN(now, n)
	if !res.OK() {
		return time.Minute, false
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

// keyedLimiter keeps one bucket per key (an account, or a requester–target
// pair), in memory only, and forgets buckets that have been full for a
// while, so it holds keys no longer than a rate-limit window.
type keyedLimiter struct {
	rate Rate
	mu   sync.Mutex
	m    map[string]*keyed
}

type keyed struct {
	l    *rate.Limiter
	last time.Time
}

func newKeyedLimiter(r Rate) *keyedLimiter {
	return &keyedLimiter{rate: r, m: map[string]*keyed{}}
}

// take spends one token of key's bucket at now.
func (k *keyedLimiter) take(key string, now time.Time) (time.Duration, bool) {
	return k.takeN(key, 1, now)
}

// takeN spends n tokens of key's bucket at now, or says how long until
// there are n.
func (k *keyedLimiter) takeN(key string, n int, now time.Time) (time.Duration, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return takeN(k.entryLocked(key, now), n, now)
}

// entryLocked returns key's bucket, made full if there was none, marked
// used at now. k.mu is held.
func (k *keyedLimiter) entryLocked(key string, now time.Time) *rate.Limiter {
	e := k.m[key]
	if e == nil {
		e = &keyed{l: k.rate.limiter()}
		k.m[key] = e
	}
	e.last = now
	return e.l
}

// peek reports whether key's bucket has a token at now, without spending
// it, or how long until it has.
func (k *keyedLimiter) peek(key string, now time.Time) (time.Duration, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e := k.m[key]
	if e == nil {
		return 0, true
	}
	if t := e.l.TokensAt(now); t < 1 {
		return time.Duration((1 - t) / k.rate.Per * float64(time.Second)), false
	}
	return 0, true
}

// charge spends one token of key's bucket at now even if it has none
// (then its next token comes later): for work already done.
func (k *keyedLimiter) charge(key string, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.entryLocked(key, now).ReserveN(now, 1)
}

// prune forgets buckets untouched for long enough to have refilled.
func (k *keyedLimiter) prune(now time.Time) {
	refill := time.Duration(float64(k.rate.Burst)/k.rate.Per*float64(time.Second)) + time.Second
	k.mu.Lock()
	defer k.mu.Unlock()
	for key, e := range k.m {
		if now.Sub(e.last) > refill {
			delete(k.m, key)
		}
	}
}
