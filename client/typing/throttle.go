package typing

import (
	"sync"
	"time"
)

// Receiver-side bounds: a contact's modified client may send indicators as
// fast as the server relays them; each would be an event for every
// subscriber and a redraw in every user interface. Per sender and
// conversation, events are a token bucket: Burst at once, then one every
// Throttle. An honest sender (one "started" per Refresh, one "stopped"
// after it) never runs dry, even pausing and resuming quickly.
const (
	// Throttle is how often, sustained, an indicator from one sender in
	// one conversation may become an event.
	Throttle = 500 * time.Millisecond
	// Burst is how many may become events at once.
	Burst = 4
	// maxTracked bounds the throttle's memory: beyond it, entries that no
	// longer hold anything back are swept.
	maxTracked = 1024
)

// throttle remembers, in memory only, what was shown per sender and
// conversation. The zero value is ready.
type throttle struct {
	mu   sync.Mutex
	last map[string]bucket
}

type bucket struct {
	tokens float64   // events that may be shown now
	at     time.Time // when tokens was counted
	typing bool      // the last event shown was a "started"
}

// fill is b's tokens at now.
func (b bucket) fill(now time.Time) float64 {
	d := now.Sub(b.at)
	if d < 0 { // the clock went back: count no time
		d = 0
	}
	return min(Burst, b.tokens+float64(d)/float64(Throttle))
}

// allow says whether an indicator from key (conversation and sender) may
// become an event at now, and records it if so. A "stopped" passes only to
// end a "started" shown (otherwise there is nothing to take down); each
// event shown takes a token.
func (r *throttle) allow(key string, typing bool, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[string]bucket{}
	}
	b, seen := r.last[key]
	if !seen {
		b = bucket{tokens: Burst, at: now}
	}
	if !typing && !b.typing {
		return false
	}
	tokens := b.fill(now)
	if tokens < 1 {
		return false
	}
	if !seen && len(r.last) >= maxTracked {
		r.sweep(now)
	}
	r.last[key] = bucket{tokens: tokens - 1, at: now, typing: typing}
	return true
}

// sweep forgets entries that no longer hold anything back: a full bucket
// after a "stopped", or a "started" already expired.
func (r *throttle) sweep(now time.Time) {
	for k, b := range r.last {
		if (!b.typing && b.fill(now) >= Burst) || (b.typing && now.Sub(b.at) >= Expiry) {
			delete(r.last, k)
		}
	}
}
