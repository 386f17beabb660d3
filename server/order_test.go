package server_test

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/ws"
	"github.com/skymsg/sky/wire"
)

// TestAuthenticatedBeforeBacklog: the answer to Authenticate comes before
// any push of the device's backlog (docs/protocol.md), so a client that
// waits for the answer and drops other frames loses nothing. Checked over
// many connections, since the order depended on scheduling.
func TestAuthenticatedBeforeBacklog(t *testing.T) {
	lots := server.Rate{Per: 1e6, Burst: 1e6}
	e := newEnv(t, server.Config{SendRate: lots, ConnRate: lots})
	alice, _ := e.register()
	bob, b := e.register()
	bob.Close()
	for range 20 {
		mustSend(t, alice, b, "queued")
	}
	// Messages keep arriving while Bob connects, so a live push races the
	// answer too.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				alice.Send(ctxT(t), b.Account, 1, []byte("live"))
			}
		}
	}()
	// Whatever the scheduling: the answer is queued before delivery starts.
	server.SlowAuthAnswer(t, 20*time.Millisecond)
	for i := range 20 {
		nc, rest, err := ws.Dial(ctxT(t), e.srv.URL, ws.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r := ws.NewReader(nc, rest, wire.MaxServerFrameBytes, false)
		read := func() *wire.Frame {
			t.Helper()
			_, p, err := r.Next()
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			f, err := wire.Decode(p, wire.MaxServerFrameBytes)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
		nc.Write(rawFrame(&wire.Frame{Body: &wire.Frame_Hello{Hello: &wire.Hello{Versions: []uint32{wire.Version}}}}))
		ch := read().GetWelcome().GetChallenge()
		sig := ed25519.Sign(b.Key, wire.AuthSignedData(ch, b.Account, 1))
		nc.Write(rawFrame(&wire.Frame{Body: &wire.Frame_Request{Request: &wire.Request{Id: 1,
			Op: &wire.Request_Authenticate{Authenticate: &wire.Authenticate{Account: b.Account, Device: 1, Signature: sig}}}}}))
		f := read()
		if f.GetResponse().GetAuthenticated() == nil {
			t.Fatalf("connection %d: the first frame after Authenticate is %T, not its answer", i, f.GetBody())
		}
		if f = read(); f.GetPush() == nil {
			t.Fatalf("connection %d: then %T, want the backlog", i, f.GetBody())
		}
		nc.Close()
	}
}
