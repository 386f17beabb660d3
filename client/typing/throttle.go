package typing

import (
	"sync"
	"time"
)

// Receiver-side bounds: a contact's modified client may send indicators as
// fast as the server relays them; each would be an event for every
// subscriber and a redraw in every user interface.
const (
	// Throttle is how often, at most, a "started" from one sender in one
	// conversation becomes an event. An honest sender sends one every
	// Refresh, so this drops nothing of theirs.
	Throttle = time.Second
	// maxTracked bounds the throttle's memory: beyond it, entries that no
	// longer hold anything back are swept.
	maxTracked = 1024
)

// throttle remembers, in memory only, the last event shown per sender and
// conversation. The zero value is ready.
type throttle struct {
	mu   sync.Mutex
	last map[string]shown
}

type shown struct {
	at     time.Time // when the last "started" was shown
	typing bool      // whether the last event shown was a "started"
}

// allow says whether an indicator from key (conversation and sender) may
// become an event at now, and records it if so. A "started" passes at most
// once per Throttle; a "stopped" passes only to end a "started" shown.
// So a flood yields at most two events per Throttle per key.
func (r *throttle) allow(key string, typing bool, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[string]shown{}
	}
	prev, seen := r.last[key]
	if !typing {
		if !seen || !prev.typing {
			return false
		}
		r.last[key] = shown{at: prev.at}
		return true
	}
	if seen && now.Sub(prev.at) < Throttle && now.Sub(prev.at) > -Throttle {
		return false
	}
	if !seen && len(r.last) >= maxTracked {
		r.sweep(now)
	}
	r.last[key] = shown{at: now, typing: true}
	return true
}

// sweep forgets entries that no longer hold anything back: a "stopped"
// shown more than Throttle ago, or a "started" already expired.
func (r *throttle) sweep(now time.Time) {
	for k, s := range r.last {
		age := now.Sub(s.at)
		if age < 0 {
			age = -age
		}
		if age >= Expiry || (!s.typing && age >= Throttle) {
			delete(r.last, k)
		}
	}
}
