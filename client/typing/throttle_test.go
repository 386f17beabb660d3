package typing

import (
	"testing"
	"time"
)

// TestThrottle: per sender and conversation, Burst events at once, then one
// per Throttle; a "stopped" only ends a "started" shown; keys are
// independent; an honest sender pausing and resuming is never held back.
func TestThrottle(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	type step struct {
		key    string
		typing bool
		at     time.Time
		want   bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"stopped with nothing shown", []step{{"a", false, ms(0), false}, {"a", true, ms(0), true}, {"a", false, ms(0), true}, {"a", false, ms(0), false}}},
		{"burst then dry", []step{{"a", true, ms(0), true}, {"a", true, ms(1), true}, {"a", true, ms(2), true}, {"a", true, ms(3), true}, {"a", true, ms(4), false}, {"b", true, ms(4), true}}},
		{"refills one per Throttle", []step{{"a", true, ms(0), true}, {"a", true, ms(0), true}, {"a", true, ms(0), true}, {"a", true, ms(0), true},
			{"a", true, ms(499), false}, {"a", true, ms(500), true}, {"a", true, ms(600), false}}},
		{"honest pauses", []step{{"a", true, ms(0), true}, {"a", false, ms(400), true}, {"a", true, ms(800), true}, {"a", false, ms(1500), true},
			{"a", true, ms(2000), true}, {"a", true, ms(5000), true}, {"a", false, ms(5200), true}}},
		{"clock going back", []step{{"a", true, ms(10_000), true}, {"a", true, ms(0), true}, {"a", true, ms(0), true}, {"a", true, ms(0), true}, {"a", true, ms(0), false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r throttle
			for i, s := range tc.steps {
				if got := r.allow(s.key, s.typing, s.at); got != s.want {
					t.Fatalf("step %d %+v: allowed %v", i, s, got)
				}
			}
		})
	}
}

// TestThrottleSweep: the memory stays bounded by what still holds back.
func TestThrottleSweep(t *testing.T) {
	var r throttle
	t0 := time.Unix(1_700_000_000, 0)
	for i := range maxTracked {
		r.allow(string(rune('a'+i%26))+string(rune(i)), true, t0)
	}
	later := t0.Add(Expiry)
	r.allow("new", true, later)
	if len(r.last) != 1 {
		t.Fatalf("%d entries after a sweep past their expiry, want 1", len(r.last))
	}
}
