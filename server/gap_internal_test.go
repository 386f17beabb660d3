package server

import (
	"testing"

	"github.com/skymsg/sky/server/store"
)

// TestGap: a live push needs a store read first exactly when some message
// it would pass over was queued before one of the live messages and is not
// among them.
func TestGap(t *testing.T) {
	live := func(seqPrev ...uint64) []liveMessage {
		var out []liveMessage
		for i := 0; i < len(seqPrev); i += 2 {
			out = append(out, liveMessage{Message: store.Message{Seq: seqPrev[i]}, prev: seqPrev[i+1]})
		}
		return out
	}
	tests := []struct {
		name   string
		live   []liveMessage
		cursor uint64
		want   bool
	}{
		{"nothing live", nil, 10, false},
		{"next in line", live(11, 10), 10, false},
		{"first to an empty queue", live(11, 0), 0, false},
		{"acknowledged before: prev below cursor", live(20, 5), 10, false},
		{"a chain within the batch", live(11, 10, 12, 11, 15, 12), 10, false},
		{"one committed elsewhere before it", live(12, 11), 10, true},
		{"one committed elsewhere inside the chain", live(11, 10, 14, 13), 10, true},
		{"already pushed ones are skipped", live(9, 3, 10, 9, 11, 10), 10, false},
		{"an old one below the cursor does not hide a gap", live(9, 3, 13, 12), 10, true},
	}
	for _, tc := range tests {
		if got := gap(tc.live, tc.cursor); got != tc.want {
			t.Errorf("%s: gap = %v, want %v", tc.name, got, tc.want)
		}
	}
}
