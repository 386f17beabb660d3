package server_test

import (
	"bytes"
	"testing"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/wire"
)

// TestRememberedVerifierRotates: a token accepted moments ago (its verifier
// remembered, verifiers.go) is refused at once after its account sets a
// new verifier on the node, and the new token is accepted; a wrong token is
// refused however often the right one was accepted.
func TestRememberedVerifierRotates(t *testing.T) {
	lots := server.Rate{Per: 1e6, Burst: 1e6}
	e, _ := certified(t, server.Config{SealedRate: lots, RecipientRate: lots})
	bob, b := e.register()
	old := setToken(t, bob, b)
	body := sealedBody(wire.SealedSizes[0], 1)
	anon := e.anonymous()
	for i := range 3 {
		if err := anon.SendSealed(ctxT(t), b.Account, 1, body, old); err != nil {
			t.Fatalf("send %d with the token: %v", i, err)
		}
	}
	expectCode(t, anon.SendSealed(ctxT(t), b.Account, 1, body, bytes.Repeat([]byte{7}, wire.DeliveryTokenBytes)), wire.Code_TOKEN_REJECTED)
	fresh := bytes.Repeat([]byte{0x42}, wire.DeliveryTokenBytes)
	if _, err := bob.Call(ctxT(t), &wire.Request{Op: &wire.Request_SetDeliveryVerifier{SetDeliveryVerifier: &wire.SetDeliveryVerifier{
		Verifier: wire.DeliveryVerifier(b.Account, fresh)}}}); err != nil {
		t.Fatal(err)
	}
	expectCode(t, anon.SendSealed(ctxT(t), b.Account, 1, body, old), wire.Code_TOKEN_REJECTED)
	if err := anon.SendSealed(ctxT(t), b.Account, 1, body, fresh); err != nil {
		t.Fatalf("the new token: %v", err)
	}
}
