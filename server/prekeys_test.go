package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/wire"
)

// TestPreKeyDrain: many requesters together consume at most the target's
// budget of one-time prekeys (later bundles carry only the signed and
// last-resort keys, so sessions still start), and revoked or expired
// accounts fetch no bundles at all. (Before, five revoked accounts emptied
// 50 EC and 50 Kyber one-time prekeys at once.)
func TestPreKeyDrain(t *testing.T) {
	e := newEnv(t, server.Config{BundleTargetRate: server.Rate{Per: 1.0 / 60, Burst: 5}})
	bob, b := e.register()
	uploadKeys(t, bob, 50)
	fetch := &wire.Request{Op: &wire.Request_FetchBundles{FetchBundles: &wire.FetchBundles{Account: b.Account, Device: 1}}}
	oneTime := 0
	for range 5 {
		c, _ := e.register()
		for range 10 {
			r, err := c.Call(ctxT(t), fetch)
			if err != nil {
				t.Fatalf("fetch: %v", err)
			}
			bd := r.GetBundles().GetBundles()[0]
			if bd.GetOneTimeEc() != nil {
				oneTime++
			}
			if bd.GetOneTimeEc() == nil && !bd.GetKyberLastResort() {
				t.Fatal("a bundle without a one-time EC key carries a one-time Kyber key")
			}
		}
	}
	counts, err := bob.Call(ctxT(t), &wire.Request{Op: &wire.Request_GetPrekeyCounts{GetPrekeyCounts: &wire.GetPreKeyCounts{}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("50 fetches by 5 accounts: %d bundles with one-time keys; %d EC and %d Kyber one-time keys left of 50",
		oneTime, counts.GetPrekeyCounts().GetEc(), counts.GetPrekeyCounts().GetKyber())
	if oneTime != 5 || counts.GetPrekeyCounts().GetEc() != 45 || counts.GetPrekeyCounts().GetKyber() != 45 {
		t.Fatalf("%d one-time bundles, counts %v; want 5 and 45 left of each", oneTime, counts.GetPrekeyCounts())
	}

	// Revoked and expired accounts fetch nothing.
	rev, r := e.register()
	if err := e.srv.Store.Revoke(context.Background(), r.Account); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute) // past the account re-check
	_, err = rev.Call(ctxT(t), fetch)
	expectCode(t, err, wire.Code_ACCOUNT_REVOKED)
	exp, _ := e.register()
	e.clock.Advance(91 * 24 * time.Hour)
	_, err = exp.Call(ctxT(t), fetch)
	expectCode(t, err, wire.Code_SUBSCRIPTION_EXPIRED)
}

// TestPreKeyUploadRate: one account cannot rewrite its keys without bound:
// uploads are limited in number and in bytes. (Before, one account
// rewrote 14 MB/s of keys.)
func TestPreKeyUploadRate(t *testing.T) {
	e := newEnv(t, server.Config{})
	bob, _ := e.register()
	// Each upload: 100 one-time Kyber keys of the largest size, about 205 KB.
	up := &wire.UploadPreKeys{}
	for i := range 100 {
		up.OneTimeKyber = append(up.OneTimeKyber, &wire.PreKey{Id: uint32(i), Key: make([]byte, wire.MaxPreKeyBytes), Signature: make([]byte, 64)})
	}
	req := &wire.Request{Op: &wire.Request_UploadPrekeys{UploadPrekeys: up}}
	n := 0
	for ; n < 20; n++ {
		if _, err := bob.Call(ctxT(t), req); err != nil {
			expectCode(t, err, wire.Code_RATE_LIMITED)
			break
		}
	}
	t.Logf("accepted %d uploads of 205 KB at once (%d KB)", n, n*205)
	if n < 4 || n > 5 {
		t.Fatalf("accepted %d uploads of 205 KB at once; want the 1 MiB burst (4 or 5)", n)
	}
	// Small uploads: the request budget (20 at once) ends them too.
	small := &wire.Request{Op: &wire.Request_UploadPrekeys{UploadPrekeys: &wire.UploadPreKeys{
		SignedEc: &wire.PreKey{Id: 1, Key: make([]byte, 33), Signature: make([]byte, 64)}}}}
	e.clock.Advance(time.Hour) // both buckets full again
	for i := 0; ; i++ {
		if _, err := bob.Call(ctxT(t), small); err != nil {
			expectCode(t, err, wire.Code_RATE_LIMITED)
			if i != 20 {
				t.Fatalf("refused after %d small uploads, want 20", i)
			}
			break
		}
		if i > 20 {
			t.Fatal("more than 20 uploads at once")
		}
	}
}
