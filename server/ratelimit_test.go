package server_test

import (
	"crypto/ed25519"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/wire"
)

// TestRateLimits is acceptance test 15 for one node: each bucket answers
// RATE_LIMITED with a retry hint at the configured point and recovers at the
// configured rate (on the manual clock).
func TestRateLimits(t *testing.T) {
	t.Run("send per account", func(t *testing.T) {
		e := newEnv(t, server.Config{SendRate: server.Rate{Per: 1, Burst: 3}})
		alice, _ := e.register()
		_, b := e.register()
		for i := range 3 {
			if err := alice.Send(ctxT(t), b.Account, 1, []byte{byte(i)}); err != nil {
				t.Fatalf("send %d within the burst: %v", i, err)
			}
		}
		we := expectCode(t, alice.Send(ctxT(t), b.Account, 1, []byte("x")), wire.Code_RATE_LIMITED)
		if we.RetryAfter() != time.Second {
			t.Fatalf("retry after %v, want 1s", we.RetryAfter())
		}
		e.clock.Advance(time.Second)
		if err := alice.Send(ctxT(t), b.Account, 1, []byte("y")); err != nil {
			t.Fatalf("after waiting: %v", err)
		}
		expectCode(t, alice.Send(ctxT(t), b.Account, 1, []byte("z")), wire.Code_RATE_LIMITED)
	})
	t.Run("bundles per requester and target", func(t *testing.T) {
		e := newEnv(t, server.Config{BundleRate: server.Rate{Per: 1.0 / 60, Burst: 2}})
		alice, _ := e.register()
		bob, b := e.register()
		carol, c := e.register()
		uploadKeys(t, bob, 5)
		uploadKeys(t, carol, 5)
		fetch := func(target string) error {
			_, err := alice.Call(ctxT(t), &wire.Request{Op: &wire.Request_FetchBundles{FetchBundles: &wire.FetchBundles{Account: target}}})
			return err
		}
		for range 2 {
			if err := fetch(b.Account); err != nil {
				t.Fatal(err)
			}
		}
		we := expectCode(t, fetch(b.Account), wire.Code_RATE_LIMITED)
		if we.RetryAfter() != time.Minute {
			t.Fatalf("retry after %v, want 1m", we.RetryAfter())
		}
		if err := fetch(c.Account); err != nil {
			t.Fatalf("another target is limited too: %v", err)
		}
		// Bob's keys were not consumed by the refused fetch.
		r, _ := bob.Call(ctxT(t), &wire.Request{Op: &wire.Request_GetPrekeyCounts{GetPrekeyCounts: &wire.GetPreKeyCounts{}}})
		if r.GetPrekeyCounts().GetEc() != 3 {
			t.Fatalf("bob has %d one-time keys left, want 3", r.GetPrekeyCounts().GetEc())
		}
		e.clock.Advance(time.Minute)
		if err := fetch(b.Account); err != nil {
			t.Fatalf("after a minute: %v", err)
		}
	})
	t.Run("requests per connection", func(t *testing.T) {
		e := newEnv(t, server.Config{ConnRate: server.Rate{Per: 1, Burst: 3}})
		c := e.dial()
		_, err := c.Register(ctxT(t), e.srv.Code(t, e.clock.Now())) // request 1
		if err != nil {
			t.Fatal(err)
		}
		get := &wire.Request{Op: &wire.Request_GetAccount{GetAccount: &wire.GetAccount{}}}
		for range 2 {
			if _, err := c.Call(ctxT(t), get); err != nil {
				t.Fatal(err)
			}
		}
		expectCode(t, func() error { _, err := c.Call(ctxT(t), get); return err }(), wire.Code_RATE_LIMITED)
		e.clock.Advance(time.Second)
		if _, err := c.Call(ctxT(t), get); err != nil {
			t.Fatalf("after a second: %v", err)
		}
	})
	t.Run("registrations server-wide", func(t *testing.T) {
		e := newEnv(t, server.Config{RegisterRate: server.Rate{Per: 0.1, Burst: 1}})
		if _, err := e.dial().Register(ctxT(t), e.srv.Code(t, e.clock.Now())); err != nil {
			t.Fatal(err)
		}
		code := e.srv.Code(t, e.clock.Now())
		_, err := e.dial().Register(ctxT(t), code)
		expectCode(t, err, wire.Code_RATE_LIMITED)
		e.clock.Advance(10 * time.Second)
		// The refused attempt did not use the code up.
		if _, err := e.dial().Register(ctxT(t), code); err != nil {
			t.Fatalf("after waiting: %v", err)
		}
	})
}

// TestRegistrationBudget: requests that are malformed or not signed never
// spend the server-wide registration budget, and unknown codes are charged
// to their source address, so neither blocks anyone else's registration.
// (Before the fix 20 empty Register requests made every valid registration
// fail RATE_LIMITED.)
func TestRegistrationBudget(t *testing.T) {
	e := newEnv(t, server.Config{
		RegisterRate: server.Rate{Per: 0.001, Burst: 4},
		CodeFailRate: server.Rate{Per: 0.001, Burst: 2},
	})
	ctx := ctxT(t)
	// 21 malformed or unsigned registrations, three per connection.
	pub, priv, _ := ed25519.GenerateKey(nil)
	bad := []*wire.Register{
		{},
		{ActivationCode: "x", AuthKey: pub, IdentityKey: []byte{5}, Signature: ed25519.Sign(priv, []byte("not the challenge"))},
		{ActivationCode: "x"},
	}
	for range 7 {
		c := e.dial()
		for _, r := range bad {
			_, err := c.Call(ctx, &wire.Request{Op: &wire.Request_Register{Register: r}})
			if err == nil {
				t.Fatal("a malformed registration succeeded")
			}
		}
	}
	// Signed registrations with made-up codes, from one address: two are
	// looked up, then that address is refused.
	attacker := net.ParseIP("127.0.0.2")
	for i := range 3 {
		c, err := servertest.DialFrom(ctx, e.srv.URL, attacker)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Register(ctx, fmt.Sprintf("made-up-code-%d", i))
		want := wire.Code_CODE_INVALID
		if i == 2 {
			want = wire.Code_RATE_LIMITED
		}
		expectCode(t, err, want)
		c.CloseNow()
	}
	// Everyone else still registers: the budget of 4 had 2 spent.
	for i := range 2 {
		if _, err := e.dial().Register(ctx, e.srv.Code(t, e.clock.Now())); err != nil {
			t.Fatalf("valid registration %d: %v", i, err)
		}
	}
}

// TestAuthFailuresPerAddress: failed authentications are charged to their
// source address, whatever the connection, so cycling connections does
// not buy more attempts; other addresses are not affected.
func TestAuthFailuresPerAddress(t *testing.T) {
	e := newEnv(t, server.Config{AuthFailRate: server.Rate{Per: 0.001, Burst: 4}})
	_, d := e.register()
	wrong := &servertest.Device{Account: d.Account, ID: 1}
	_, wrong.Key, _ = ed25519.GenerateKey(nil)
	attacker := net.ParseIP("127.0.0.2")
	for i := range 5 {
		c, err := servertest.DialFrom(ctxT(t), e.srv.URL, attacker)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Authenticate(ctxT(t), wrong)
		want := wire.Code_AUTH_FAILED
		if i == 4 {
			want = wire.Code_RATE_LIMITED
		}
		expectCode(t, err, want)
		c.CloseNow()
	}
	e.connect(d) // from 127.0.0.1
}
