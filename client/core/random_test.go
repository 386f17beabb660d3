package core

import (
	"testing"
	"time"
)

func TestRandDuration(t *testing.T) {
	if got := randDuration(0); got != 0 {
		t.Errorf("randDuration(0) = %v, want 0", got)
	}
	if got := randDuration(-time.Second); got != 0 {
		t.Errorf("randDuration(-1s) = %v, want 0", got)
	}
	const n = 10 * time.Second
	seen := map[time.Duration]bool{}
	var low, high int
	for range 1000 {
		d := randDuration(n)
		if d < 0 || d >= n {
			t.Fatalf("randDuration(%v) = %v, outside [0, %v)", n, d, n)
		}
		seen[d] = true
		if d < n/2 {
			low++
		} else {
			high++
		}
	}
	// 1,000 draws from 10^10 values: repeats or a lopsided split mean the
	// source is broken (each half gets 500 ± 16 on average; 350 is ~9.5 sigma).
	if len(seen) < 990 || low < 350 || high < 350 {
		t.Errorf("1000 draws: %d distinct, %d below half, %d above: not uniform", len(seen), low, high)
	}
}
