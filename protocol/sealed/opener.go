package sealed

import (
	"fmt"
	"sync"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/internal/redact"
)

// Opener opens sealed envelopes (Open) for one recipient identity and
// remembers the static agreement DH(recipient identity, sender identity) of
// the senders whose envelopes authenticated. That agreement is the same for
// every envelope from one sender, so a receiver that keeps an Opener pays
// one X25519 per envelope (the ephemeral one) instead of two. Nothing on the
// wire changes. The remembered secrets are as sensitive as the identity
// private key the Opener holds anyway; Wipe clears them. An Opener is safe
// for concurrent use.
type Opener struct {
	to    identity.KeyPair
	cache staticCache
}

// MaxRememberedSenders bounds an Opener's memory: when it is full, the
// remembered agreements are forgotten and collected again.
const MaxRememberedSenders = 1024

// NewOpener returns an Opener for the recipient identity to.
func NewOpener(to identity.KeyPair) *Opener { return &Opener{to: to} }

// Open is the package's Open with the recipient's identity and the
// remembered agreements.
func (o *Opener) Open(envelope []byte) (*Content, error) { return open(envelope, o.to, &o.cache) }

// Wipe forgets every remembered agreement.
func (o *Opener) Wipe() { o.cache.wipe() }

// Format redacts the Opener under every fmt verb.
func (o *Opener) Format(f fmt.State, _ rune) { redact.Format(f, "sealed.Opener") }

// staticCache maps a sender identity key to the recipient's agreement with
// it. A nil *staticCache computes every agreement.
type staticCache struct {
	mu     sync.Mutex
	shared map[curve.PublicKey][curve.SharedSize]byte
}

func (c *staticCache) agree(priv curve.PrivateKey, pub curve.PublicKey) ([curve.SharedSize]byte, error) {
	if c != nil {
		c.mu.Lock()
		s, ok := c.shared[pub]
		c.mu.Unlock()
		if ok {
			return s, nil
		}
	}
	return priv.Agree(pub)
}

func (c *staticCache) remember(pub curve.PublicKey, shared *[curve.SharedSize]byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.shared) >= MaxRememberedSenders {
		c.wipeLocked()
	}
	if c.shared == nil {
		c.shared = make(map[curve.PublicKey][curve.SharedSize]byte)
	}
	c.shared[pub] = *shared
}

func (c *staticCache) wipe() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wipeLocked()
}

func (c *staticCache) wipeLocked() {
	for k, v := range c.shared {
		clear(v[:])
		c.shared[k] = v
	}
	clear(c.shared)
}
