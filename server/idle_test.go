package server_test

import (
	"testing"
	"time"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/wire"
)

// waitParked waits until n connections are parked in the poller.
func waitParked(t *testing.T, s *server.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := server.ParkedConnections(s)
		if got == -1 {
			t.Skip("no poller on this system: idle connections keep a goroutine")
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections parked, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestIdleConnectionsPark: quiet connections give up their goroutine and
// buffer, and everything still works when they wake: receiving a push
// while parked, sending, acknowledging, pings and closing.
func TestIdleConnectionsPark(t *testing.T) {
	e := newEnv(t, server.Config{IdleAfter: 20 * time.Millisecond})
	alice, a := e.register()
	bob, b := e.register()
	waitParked(t, e.srv.Server, 2)

	// A push reaches a parked connection (pushes need no reader).
	mustSend(t, alice, b, "while you slept")
	waitParked(t, e.srv.Server, 2)
	env := expectNext(t, bob, a, "while you slept")
	// Bob's acknowledgement wakes his connection.
	if err := bob.Ack(ctxT(t), env.GetId()); err != nil {
		t.Fatal(err)
	}
	waitParked(t, e.srv.Server, 2)
	if n := pendingCount(t, e.srv.Store, b); n != 0 {
		t.Fatalf("%d messages queued after the acknowledgement", n)
	}
	// Many requests pipelined at a parked connection.
	var chans []<-chan *wire.Response
	for i := range 50 {
		ch, err := alice.Start(ctxT(t), servertest.SendRequest(b.Account, 1, []byte{byte(i)}))
		if err != nil {
			t.Fatal(err)
		}
		chans = append(chans, ch)
	}
	for _, ch := range chans {
		if r := <-ch; r.GetSent() == nil {
			t.Fatalf("pipelined send: %v", r)
		}
	}
	for i := range 50 {
		if got := servertest.Open(next(t, bob).GetContent()); got[0] != byte(i) {
			t.Fatalf("message %d arrived as %d", i, got[0])
		}
	}
	waitParked(t, e.srv.Server, 2)
	// A parked connection that closes is forgotten.
	alice.Close()
	waitParked(t, e.srv.Server, 1)
}
