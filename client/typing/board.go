package typing

import (
	"slices"
	"sync"
	"time"

	"github.com/skymsg/sky/client/core"
)

// Board is who is typing where, for a user interface: it takes the
// TypingEvents and answers Who, forgetting each indicator at its Until.
// Safe for concurrent use.
type Board struct {
	mu  sync.Mutex
	now func() time.Time
	at  map[string]map[string]time.Time // conversation -> peer -> until
}

// NewBoard makes an empty board; now tells the time (time.Now if nil).
func NewBoard(now func() time.Time) *Board {
	if now == nil {
		now = time.Now
	}
	return &Board{now: now, at: map[string]map[string]time.Time{}}
}

// Note records an event. The conversation is the group, or else the peer.
func (b *Board) Note(e *core.TypingEvent) {
	conv := e.Group
	if conv == "" {
		conv = e.Peer
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !e.Typing {
		delete(b.at[conv], e.Peer)
		return
	}
	if b.at[conv] == nil {
		b.at[conv] = map[string]time.Time{}
	}
	b.at[conv][e.Peer] = e.Until
}

// Who returns who is typing in conversation conv now, sorted.
func (b *Board) Who(conv string) []string {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for peer, until := range b.at[conv] {
		if now.Before(until) {
			out = append(out, peer)
		} else {
			delete(b.at[conv], peer)
		}
	}
	slices.Sort(out)
	return out
}
