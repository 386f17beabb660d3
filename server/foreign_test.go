package server_test

import (
	"testing"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/server/store"
)

// TestForeignCommitIsPushed: a message committed to a connected device's
// queue by another process — a skyd that was killed while committing it, or
// another node whose wake hint was lost — is pushed before a later message
// this node commits, not left behind the connection's cursor until the
// device reconnects.
func TestForeignCommitIsPushed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backend) {
		st := open(t)
		e := newEnv(t, server.Config{Store: st})
		alice, a := e.register()
		bob, b := e.register()
		mustSend(t, alice, b, "first")
		expectNext(t, bob, a, "first")

		// Another process commits a message for bob; this node never hears
		// of it.
		foreign := &store.Batch{QueueCap: 100, Messages: []store.NewMessage{{
			To:       store.Address{Account: b.Account, Device: b.ID},
			Received: e.clock.Now(), Body: servertest.Seal([]byte("committed elsewhere")),
		}}}
		if err := st.WriteBatch(ctxT(t), foreign); err != nil || foreign.Errs[0] != nil {
			t.Fatalf("foreign commit: %v %v", err, foreign.Errs)
		}

		mustSend(t, alice, b, "after it")
		expectNext(t, bob, a, "committed elsewhere")
		expectNext(t, bob, a, "after it")
	})
}
