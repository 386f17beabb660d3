package main

import (
	"testing"
	"time"
)

func TestTimeLeft(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "now"},
		{400 * time.Millisecond, "now"},
		{29*time.Second + 600*time.Millisecond, "30s"},
		{4*time.Minute + 32*time.Second, "4m32s"},
		{2*time.Hour + 5*time.Minute, "2h05m"},
		{3*24*time.Hour + 4*time.Hour + 10*time.Minute, "3d4h"},
	} {
		if got := timeLeft(tc.d); got != tc.want {
			t.Errorf("timeLeft(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
