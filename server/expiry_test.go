package server_test

import (
	"testing"
	"time"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/servertest"
)

// TestExpiry is acceptance test 19: a message is served until 48 h − 1 s,
// not at 48 h + 1 s, and physically deleted by the sweeper, including the
// one that runs when skyd starts again. Receive times are stored rounded
// down to the hour (TestCoarseTime), so this test sends on the hour, where
// the bound is exact.
func TestExpiry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backend) {
		clock := servertest.NewClock(t0.Truncate(time.Hour))
		e := newEnv(t, server.Config{Store: open(t), Clock: clock, SweepInterval: time.Hour})
		alice, a := e.register()
		bob, b := e.register()
		bob.Close()
		mustSend(t, alice, b, "old")
		// 48 h − 1 s later it is still delivered (and not acknowledged).
		clock.Advance(server.DefaultMessageTTL - time.Second)
		bob = e.connect(b)
		expectNext(t, bob, a, "old")
		bob.Close()
		// 48 h + 1 s: not served any more, even before a sweep.
		clock.Advance(2 * time.Second)
		bob = e.connect(b)
		mustSend(t, alice, b, "new")
		expectNext(t, bob, a, "new") // the first push is the new message
		if n := pendingCount(t, e.srv.Store, b); n != 2 {
			t.Fatalf("before the sweep the store holds %d rows, want 2", n)
		}
		if err := e.srv.Sweep(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := pendingCount(t, e.srv.Store, b); n != 1 {
			t.Fatalf("after the sweep the store holds %d rows, want 1", n)
		}

		// Across a restart: a message left queued when skyd stops is gone
		// once skyd starts after its TTL passed, with no sweep interval
		// elapsing.
		bob.Close()
		mustSend(t, alice, b, "left behind")
		e.srv.Stop()
		e.srv.Store.Close()
		clock.Advance(server.DefaultMessageTTL + time.Second)
		st := open(t)
		srv2 := servertest.Start(t, server.Config{Store: st, Clock: clock, SweepInterval: time.Hour})
		c, err := servertest.Dial(ctxT(t), srv2.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		if _, err := c.Authenticate(ctxT(t), b); err != nil {
			t.Fatal(err)
		}
		if n := pendingCount(t, st, b); n != 0 {
			t.Fatalf("after restarting past the TTL the store holds %d rows, want 0", n)
		}
		ac, _ := servertest.Dial(ctxT(t), srv2.URL)
		defer ac.CloseNow()
		if _, err := ac.Authenticate(ctxT(t), a); err != nil {
			t.Fatal(err)
		}
		mustSend(t, ac, b, "after restart")
		expectNext(t, c, a, "after restart")
	})
}

func TestMessageTTLBounds(t *testing.T) {
	for _, ttl := range []time.Duration{31 * 24 * time.Hour, time.Millisecond} {
		if _, err := server.New(t.Context(), server.Config{Store: servertest.Start(t, server.Config{}).Store, MessageTTL: ttl}); err == nil {
			t.Errorf("TTL %v accepted", ttl)
		}
	}
}
