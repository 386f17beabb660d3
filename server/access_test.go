package server_test

import (
	"testing"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/wire"
)

// TestAccessRequest: a sealed access request (a client asking a contact for
// their current access key after a refused token) is queued from an
// anonymous connection without a token, so the server never learns who
// asks; it is refused on an authenticated connection (where it would name
// the asker), with a token, over 4 KiB, twice on one connection, past the
// source address's budget, and past the recipient's budget for requests.
func TestAccessRequest(t *testing.T) {
	ask := func(account string, body []byte) *wire.Request {
		return &wire.Request{Op: &wire.Request_AccessRequest{AccessRequest: &wire.Send{Account: account, Device: 1, Content: body}}}
	}
	small := sealedBody(wire.SealedSizes[0], 3)
	t.Run("queued from an anonymous connection", func(t *testing.T) {
		e, _ := certified(t, server.Config{})
		bob, b := e.register()
		if _, err := e.anonymous().Call(ctxT(t), ask(b.Account, small)); err != nil {
			t.Fatal(err)
		}
		env, err := bob.Next(ctxT(t))
		if err != nil || string(env.GetContent()) != string(small) || len(env.ProtoReflect().GetUnknown()) != 0 {
			t.Fatalf("Bob got %v (%v), want the request without a sender", env, err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		e, _ := certified(t, server.Config{})
		_, b := e.register()
		c, _ := e.register()
		_, err := c.Call(ctxT(t), ask(b.Account, small))
		expectCode(t, err, wire.Code_BAD_REQUEST) // it would name c
		withToken := ask(b.Account, small)
		withToken.GetAccessRequest().DeliveryToken = make([]byte, wire.DeliveryTokenBytes)
		_, err = e.anonymous().Call(ctxT(t), withToken)
		expectCode(t, err, wire.Code_BAD_REQUEST)
		_, err = e.anonymous().Call(ctxT(t), ask(b.Account, sealedBody(wire.SealedSizes[2], 3)))
		expectCode(t, err, wire.Code_BAD_REQUEST)
		anon := e.anonymous()
		if _, err := anon.Call(ctxT(t), ask(b.Account, small)); err != nil {
			t.Fatal(err)
		}
		_, err = anon.Call(ctxT(t), ask(b.Account, small))
		expectCode(t, err, wire.Code_RATE_LIMITED) // one per connection
	})
	t.Run("per source address", func(t *testing.T) {
		e, _ := certified(t, server.Config{AccessRequestRate: server.Rate{Per: 0.001, Burst: 2}})
		_, b := e.register()
		for i := range 2 {
			if _, err := e.anonymous().Call(ctxT(t), ask(b.Account, small)); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		_, err := e.anonymous().Call(ctxT(t), ask(b.Account, small))
		expectCode(t, err, wire.Code_RATE_LIMITED)
	})
	t.Run("per recipient, with strangers' requests", func(t *testing.T) {
		e, _ := certified(t, server.Config{RequestInRate: server.Rate{Per: 0.001, Burst: 2}})
		_, b := e.register()
		for i := range 2 {
			if _, err := e.anonymous().Call(ctxT(t), ask(b.Account, small)); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		_, err := e.anonymous().Call(ctxT(t), ask(b.Account, small))
		expectCode(t, err, wire.Code_RATE_LIMITED)
	})
}
