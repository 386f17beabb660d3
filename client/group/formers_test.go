package group

import (
	"fmt"
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

// TestRivalLimiterFull: a sender whose budget is spent keeps it spent
// when many other names arrive (a server cycling through names must not
// reset it), and a new name waits while every remembered window runs.
func TestRivalLimiterFull(t *testing.T) {
	var l rivalLimiter
	t0 := time.Unix(1_000_000, 0)
	for range rivalChecks {
		l.allow("mallory", t0)
	}
	for i := range maxRivalIDs {
		l.allow(fmt.Sprintf("name-%d", i), t0.Add(time.Second))
	}
	if l.allow("mallory", t0.Add(2*time.Second)) {
		t.Fatal("mallory's spent budget was renewed by a flood of other names")
	}
	if l.allow("newcomer", t0.Add(2*time.Second)) {
		t.Fatal("a new name was counted while the limiter was full of running windows")
	}
	if !l.allow("newcomer", t0.Add(rivalEvery+time.Second)) {
		t.Fatal("a new name still refused after every window ended")
	}
}
