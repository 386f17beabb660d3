package main

import (
	"testing"
	"time"
)

// TestCodeAge: codes list shows a code's age in whole days since the day it
// was made, and "?" for codes made before skyd kept that day.
func TestCodeAge(t *testing.T) {
	now := time.Date(2030, 3, 14, 15, 9, 26, 0, time.UTC)
	today := time.Date(2030, 3, 14, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		created time.Time
		want    string
	}{
		{time.Time{}, "?"},
		{today, "0d"},
		{today.AddDate(0, 0, -1), "1d"},
		{today.AddDate(0, 0, -45), "45d"},
	} {
		if got := codeAge(tc.created, now); got != tc.want {
			t.Errorf("codeAge(%v) = %q, want %q", tc.created, got, tc.want)
		}
	}
}
