package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/skymsg/sky/client"
)

// TestConnStateLines: a watching user is told once that the server cannot
// be reached (before any connection) or that the connection dropped (after
// one), however many attempts fail, and once that it is up.
func TestConnStateLines(t *testing.T) {
	refused := errors.New("connection refused")
	down := &client.ConnectionEvent{Err: refused}
	up := &client.ConnectionEvent{Connected: true}
	var s connState
	for i, tc := range []struct {
		ev   *client.ConnectionEvent
		want string // "" for no line
	}{
		{down, "cannot connect to the server (connection refused); still trying, messages wait on the server meanwhile"},
		{down, ""},
		{up, "connected to the server"},
		{up, ""},
		{down, "lost the connection to the server (connection refused); reconnecting, messages wait on the server meanwhile"},
		{down, ""},
		{up, "connected to the server again"},
	} {
		_, line, ok := s.change(tc.ev)
		if line != tc.want || ok != (tc.want != "") {
			t.Fatalf("event %d: line %q (%v), want %q", i, line, ok, tc.want)
		}
	}
}

// TestEndsWatching: receive --follow waits through an outage, but not for
// errors no later attempt can cure.
func TestEndsWatching(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("connection refused"), false},
		{fmt.Errorf("connecting: %w", client.ErrAuthFailed), true},
		{client.ErrRemoved, true},
		{fmt.Errorf("checking the server: %w", client.ErrTrustRoot), true},
	} {
		if got := endsWatching(tc.err); got != tc.want {
			t.Errorf("endsWatching(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
