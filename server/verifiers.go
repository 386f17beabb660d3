package server

import (
	"sync"
	"time"
)

// Delivery verifiers, remembered briefly. Every sealed send with a token
// needs its recipient's verifier; reading it from the store for each
// message was the largest cost of a sealed send (a third of skyd's CPU under
// sky-bench's load). So a verifier that just matched a token is kept in
// memory for verifierTTL and used only to accept that same token again:
// a token that does not match the remembered verifier goes to the store as
// before, so a wrong token costs the same work whether or not the account
// was written to lately (the cache reveals nothing to someone without the
// token). A new verifier set on this node drops the remembered one at once;
// one set on another node of a cluster is seen within verifierTTL.

// verifierTTL is how long a verifier that matched is remembered.
const verifierTTL = 2 * time.Second

// maxRememberedVerifiers bounds the memory: past it, the cache starts over.
const maxRememberedVerifiers = 1 << 16

type verifierCache struct {
	mu    sync.Mutex
	m     map[string]rememberedVerifier
	epoch uint64 // counts forgets: a look-up that saw another epoch does not remember
}

type rememberedVerifier struct {
	v  []byte
	at time.Time
}

// get returns account's remembered verifier if it is fresh, and the epoch
// to pass to put.
func (c *verifierCache) get(account string, now time.Time) ([]byte, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[account]
	if !ok || now.Sub(r.at) > verifierTTL || now.Before(r.at) {
		return nil, c.epoch
	}
	return r.v, c.epoch
}

// put remembers v for account, unless a verifier was forgotten since the
// look-up that read v began (epoch): it may be the one replaced.
func (c *verifierCache) put(account string, v []byte, epoch uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch != c.epoch {
		return
	}
	if c.m == nil || len(c.m) >= maxRememberedVerifiers {
		c.m = map[string]rememberedVerifier{}
	}
	c.m[account] = rememberedVerifier{v: v, at: now}
}

// forget drops account's remembered verifier (it changed).
func (c *verifierCache) forget(account string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, account)
	c.epoch++
}
