package client

import (
	"testing"
	"time"
)

// TestReconnectCapAtRuntime: a client waiting a long back-off (here 10–20 s,
// as a daemon's reaches a minute) while its server is away finds the server
// within about a second of it coming back once a watching process lowers
// the cap (SetMaxBackoff, as sky daemon, web and tui do), without a restart.
func TestReconnectCapAtRuntime(t *testing.T) {
	s := startSkyd(t)
	o := testOptions(nil)
	o.MinBackoff, o.MaxBackoff = 20*time.Second, time.Minute
	u := newUser(t, s, o)

	s.srv.Stop() // the server goes away
	next(t, u, func(e *ConnectionEvent) bool { return !e.Connected })
	s.start(s.addr) // and comes back
	u.c.SetMaxBackoff(200 * time.Millisecond)
	start := time.Now()
	ctx := shortCtx(t, 5*time.Second)
	if err := u.c.WaitConnected(ctx); err != nil {
		t.Fatalf("not reconnected %v after the server came back with the cap at 200 ms: %v", time.Since(start), err)
	}
	t.Logf("reconnected %v after the server came back", time.Since(start).Round(time.Millisecond))

	// The cap holds for later drops too.
	s.srv.Stop()
	next(t, u, func(e *ConnectionEvent) bool { return !e.Connected })
	s.start(s.addr)
	if err := u.c.WaitConnected(shortCtx(t, 5*time.Second)); err != nil {
		t.Fatalf("not reconnected after the second outage: %v", err)
	}
}
