package server_test

import (
	"crypto/ed25519"
	"testing"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/wire"
)

// TestAuthorization is acceptance test 16.
func TestAuthorization(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backend) {
		e := newEnv(t, server.Config{Store: open(t)})
		alice, a := e.register()
		bob, b := e.register()
		_, m := e.register() // Mallory
		mallory := e.connect(m)

		mustSend(t, alice, b, "for bob")
		env := expectNext(t, bob, a, "for bob")

		// Mallory acknowledges Bob's message by its ID: the answer is the
		// same as for any ID, and Bob's message stays.
		if err := mallory.Ack(ctxT(t), env.GetId()); err != nil {
			t.Fatalf("ack of someone else's ID: %v (want a silent no-op)", err)
		}
		// Unknown and malformed IDs: silent no-ops too.
		if err := mallory.Ack(ctxT(t), make([]byte, 16), []byte("short"), nil); err != nil {
			t.Fatalf("ack of unknown IDs: %v", err)
		}
		bob.Close()
		bob = e.connect(b)
		if got := next(t, bob); string(servertest.Open(got.GetContent())) != "for bob" {
			t.Fatalf("bob's message was deleted by mallory's ack; got %q", got.GetContent())
		}
		// Mallory never sees Bob's queue.
		mustSend(t, alice, m, "for mallory")
		if got := next(t, mallory); string(servertest.Open(got.GetContent())) != "for mallory" {
			t.Fatalf("mallory received %q", got.GetContent())
		}

		// A replayed authentication (signed over another connection's
		// challenge) is refused.
		c1 := e.dial()
		replay := c1.AuthRequest(b)
		c2 := e.dial()
		_, err := c2.Call(ctxT(t), replay)
		expectCode(t, err, wire.Code_AUTH_FAILED)
		// Bob's account ID with Mallory's key: refused.
		forged := &servertest.Device{Account: b.Account, ID: 1, Key: m.Key}
		_, err = e.dial().Authenticate(ctxT(t), forged)
		notMine := expectCode(t, err, wire.Code_AUTH_FAILED)
		// A device that does not exist is refused with the very same error,
		// so authentication does not reveal which accounts exist.
		_, key, _ := ed25519.GenerateKey(nil)
		ghost := &servertest.Device{Account: "2345678923", ID: 1, Key: key}
		_, err = e.dial().Authenticate(ctxT(t), ghost)
		if unknown := expectCode(t, err, wire.Code_AUTH_FAILED); unknown.GetMessage() != notMine.GetMessage() {
			t.Fatalf("unknown device error %q differs from bad-signature error %q", unknown.GetMessage(), notMine.GetMessage())
		}
		// Device 2 of Bob's account does not exist.
		_, err = e.dial().Authenticate(ctxT(t), &servertest.Device{Account: b.Account, ID: 2, Key: b.Key})
		expectCode(t, err, wire.Code_AUTH_FAILED)

		// Without authentication nothing but Register and Authenticate works.
		anon := e.dial()
		for name, req := range map[string]*wire.Request{
			"send":    servertest.SendRequest(b.Account, 1, []byte("x")),
			"ack":     servertest.AckRequest(env.GetId()),
			"bundles": {Op: &wire.Request_FetchBundles{FetchBundles: &wire.FetchBundles{Account: b.Account}}},
			"counts":  {Op: &wire.Request_GetPrekeyCounts{GetPrekeyCounts: &wire.GetPreKeyCounts{}}},
			"upload":  {Op: &wire.Request_UploadPrekeys{UploadPrekeys: &wire.UploadPreKeys{}}},
			"account": {Op: &wire.Request_GetAccount{GetAccount: &wire.GetAccount{}}},
			"delete":  {Op: &wire.Request_DeleteAccount{DeleteAccount: &wire.DeleteAccount{}}},
		} {
			_, err := anon.Call(ctxT(t), req)
			if we := expectCode(t, err, wire.Code_UNAUTHENTICATED); we == nil {
				t.Fatalf("%s without authentication", name)
			}
		}
		// An authenticated connection cannot switch identity or register.
		_, err = bob.Call(ctxT(t), bob.AuthRequest(m))
		expectCode(t, err, wire.Code_ALREADY_AUTHENTICATED)
		_, err = bob.Register(ctxT(t), e.srv.Code(t, e.clock.Now()))
		expectCode(t, err, wire.Code_ALREADY_AUTHENTICATED)
		// A delivery token belongs on an anonymous connection only, and a
		// sealed request needs authentication.
		_, err = anon.Call(ctxT(t), &wire.Request{Op: &wire.Request_Send{Send: &wire.Send{Account: b.Account, Device: 1, Content: make([]byte, 1024), DeliveryToken: make([]byte, 32)}}})
		expectCode(t, err, wire.Code_BAD_REQUEST)
		_, err = anon.Call(ctxT(t), &wire.Request{Op: &wire.Request_Send{Send: &wire.Send{Account: b.Account, Device: 1, Content: make([]byte, 1024), Sealed: true}}})
		expectCode(t, err, wire.Code_UNAUTHENTICATED)
	})
}

// TestAuthFailuresCloseConnection: three bad attempts end the connection.
func TestAuthFailuresCloseConnection(t *testing.T) {
	e := newEnv(t, server.Config{})
	_, key, _ := ed25519.GenerateKey(nil)
	c := e.dial()
	for range 3 {
		c.Call(ctxT(t), c.AuthRequest(&servertest.Device{Account: "2345678923", ID: 1, Key: key}))
	}
	<-c.Done()
	if c.Fatal().GetCode() != wire.Code_AUTH_FAILED {
		t.Fatalf("closed with %v, want AUTH_FAILED", c.Fatal())
	}
}
