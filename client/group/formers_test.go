package group

import (
	"testing"
	"time"
)

// TestRivalLimiter: at most rivalChecks proof checks per sender per
// window, counted apart per sender, renewed once the window is over.
func TestRivalLimiter(t *testing.T) {
	var l rivalLimiter
	t0 := time.Unix(1_000_000, 0)
	for i := range rivalChecks {
		if !l.allow("mallory", t0.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("check %d refused", i)
		}
	}
	steps := []struct {
		peer string
		at   time.Duration
		want bool
	}{
		{"mallory", 10 * time.Second, false},
		{"trent", 10 * time.Second, true},
		{"mallory", rivalEvery - time.Second, false},
		{"mallory", rivalEvery, true},
		{"mallory", -time.Hour, true}, // a clock set back starts a window
	}
	for _, s := range steps {
		if got := l.allow(s.peer, t0.Add(s.at)); got != s.want {
			t.Fatalf("%s at %v: %v, want %v", s.peer, s.at, got, s.want)
		}
	}
}
