package client

import (
	"errors"
	"testing"
	"time"

	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/wire"
)

// TestPreKeyTopUp is acceptance test 12: an attacker's client claims
// Bob's one-time prekeys in a loop. The server hands out each one-time key
// once, then Bob's last-resort Kyber key, and rate-limits the pair
// (attacker, Bob) after its burst; a session still starts from the
// last-resort key, and Bob's client refills its keys when fewer than the
// threshold are left.
func TestPreKeyTopUp(t *testing.T) {
	s := startSkyd(t)
	opts := testOptions(nil)
	opts.PreKeyLow, opts.PreKeyTarget = 5, 8
	alice := newUser(t, s, testOptions(nil))
	mallory := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, opts)
	b := bob.c.ID()
	if ec, ky, err := bob.c.PreKeyCounts(ctxT(t)); err != nil || ec != 8 || ky != 8 {
		t.Fatalf("after registration: %d EC, %d Kyber, %v", ec, ky, err)
	}
	bob.pause() // Bob is offline while his keys are drained
	cn, err := mallory.c.core.Conn(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	ecIDs, kyIDs := map[uint32]bool{}, map[uint32]bool{}
	fetched, lastResort := 0, 0
	for {
		r, err := cn.Call(ctxT(t), &wire.Request{Op: &wire.Request_FetchBundles{FetchBundles: &wire.FetchBundles{Account: b}}})
		if errors.Is(err, wire.ErrRateLimited) {
			var we *wire.Error
			errors.As(err, &we)
			if we.RetryAfter() <= 0 {
				t.Fatal("rate-limited without a retry time")
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		fetched++
		bd := r.GetBundles().GetBundles()[0]
		if bd.GetKyberLastResort() {
			lastResort++
			if bd.GetOneTimeEc() != nil {
				t.Fatal("a one-time EC key after the last-resort Kyber key")
			}
			continue
		}
		if ecIDs[bd.GetOneTimeEc().GetId()] || kyIDs[bd.GetKyber().GetId()] {
			t.Fatalf("a one-time key handed out twice (EC %d, Kyber %d)", bd.GetOneTimeEc().GetId(), bd.GetKyber().GetId())
		}
		ecIDs[bd.GetOneTimeEc().GetId()], kyIDs[bd.GetKyber().GetId()] = true, true
	}
	if fetched != 10 || len(ecIDs) != 8 || len(kyIDs) != 8 || lastResort != 2 {
		t.Fatalf("%d fetches before the limit (%d one-time EC, %d one-time Kyber, %d last-resort); want 10: 8, 8, 2", fetched, len(ecIDs), len(kyIDs), lastResort)
	}
	bob.start()
	waitPreKeys(t, bob, 8) // Bob refills on connecting (fewer than 5 were left)
	cn, err = mallory.c.core.Conn(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for range 8 { // Alice's own bucket is untouched; drain Bob again
		if _, err := cn.Call(ctxT(t), &wire.Request{Op: &wire.Request_FetchBundles{FetchBundles: &wire.FetchBundles{Account: b}}}); err == nil {
			t.Fatal("the attacker's bucket refilled at once")
		}
	}
	acn, err := alice.c.core.Conn(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for range 8 {
		r, err := acn.Call(ctxT(t), &wire.Request{Op: &wire.Request_FetchBundles{FetchBundles: &wire.FetchBundles{Account: b}}})
		if err != nil {
			t.Fatal(err)
		}
		bd := r.GetBundles().GetBundles()[0]
		if ecIDs[bd.GetOneTimeEc().GetId()] || kyIDs[bd.GetKyber().GetId()] {
			t.Fatal("a refilled key reuses an ID handed out before")
		}
	}
	if ec, ky, _ := bob.c.PreKeyCounts(ctxT(t)); ec != 0 || ky != 0 {
		t.Fatalf("after claiming: %d EC, %d Kyber", ec, ky)
	}
	// A session still starts, from the last-resort key; the first message
	// it carries makes Bob top up.
	alice.send(b, "hello")
	texts(t, bob, 1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ec, ky, err := bob.c.PreKeyCounts(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if ec == 8 && ky == 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not topped up: %d EC, %d Kyber", ec, ky)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A restart in the middle of nothing re-uploads nothing twice and
	// keeps the count.
	bob.reopen()
	if ec, ky, _ := bob.c.PreKeyCounts(ctxT(t)); ec != 8 || ky != 8 {
		t.Fatalf("after a restart: %d EC, %d Kyber", ec, ky)
	}
}

func waitPreKeys(t *testing.T, u *user, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ec, ky, err := u.c.PreKeyCounts(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if ec == n && ky == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not topped up: %d EC, %d Kyber", ec, ky)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLocalPreKeysBounded: a server that keeps asking for prekeys cannot
// make the store grow without end.
func TestLocalPreKeysBounded(t *testing.T) {
	s := startSkyd(t)
	bob := newUser(t, s, testOptions(nil))
	for range 15 {
		if err := bob.c.core.Update(func(tx *store.Tx) error { return bob.c.core.GeneratePreKeys(tx, 100, 100) }); err != nil {
			t.Fatal(err)
		}
	}
	bob.c.core.View(func(tx *store.Tx) error {
		ec, _ := tx.PreKeyIDs(store.OneTimePreKey)
		ky, _ := tx.PreKeyIDs(store.KyberPreKey)
		if len(ec) != core.MaxLocalPreKeys || len(ky) != core.MaxLocalPreKeys+1 { // + the last-resort key
			t.Errorf("%d EC and %d Kyber prekeys kept", len(ec), len(ky))
		}
		ps, _ := core.LoadPreKeyState(tx)
		if _, err := tx.PreKey(store.KyberPreKey, ps.LastResortID); err != nil {
			t.Errorf("the last-resort key went: %v", err)
		}
		if ec[0] != ps.NextEC-core.MaxLocalPreKeys+1 {
			t.Errorf("not the oldest were pruned: first kept %d, next %d", ec[0], ps.NextEC)
		}
		return nil
	})
}

// FuzzSettings feeds the SDK's own record decoders (settings, outbox items,
// held-message states) arbitrary bytes: errors, never panics.
func FuzzSettings(f *testing.F) {
	f.Add([]byte(core.EncodeOutItem(core.OutItem{Content: []byte("c"), Sealed: []core.DeviceCiphertext{{Device: 1, Bytes: []byte{2, 1}}}})))
	f.Add(core.PutBytes(core.PutNum(nil, 1, 5), 2, core.PutNum(core.PutNum(core.PutNum(nil, 1, 7), 2, 3), 3, 99)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		core.DecodeOutItem(b)
		if fs, err := core.DecodeFields(b); err == nil {
			fs.One(1)
			for _, h := range fs.Bytes[2] {
				core.DecodeFields(h)
			}
		}
	})
}

// TestSignedPreKeyRotation: the signed and last-resort prekeys — all that
// protects a first message made without a one-time prekey, which the
// server decides to hand out or not — are replaced every
// core.SignedPreKeyLife. A first message made with the replaced pair still
// opens while it is kept; after core.RetiredPreKeyKeep the pair is deleted, so
// a recorded copy of such a message no longer opens with the device's keys.
func TestSignedPreKeyRotation(t *testing.T) {
	s := startSkyd(t)
	clk := newClock()
	alice := newUser(t, s, testOptions(clk))
	bob := newUser(t, s, testOptions(clk))
	b := bob.c.ID()
	old := fetchBundle(t, alice, b)

	// Alice writes first while Bob is offline; a week passes.
	bob.pause()
	alice.send(b, "from before the rotation")
	alice.flush()
	clk.Advance(core.SignedPreKeyLife + time.Hour)
	bob.start()
	if got := texts(t, bob, 1); got[0] != "from before the rotation" {
		t.Fatalf("bob got %q", got)
	}
	waitFor(t, "a new signed prekey uploaded", func() bool {
		var ps core.PreKeyState
		if err := bob.c.core.View(func(tx *store.Tx) (err error) { ps, err = core.LoadPreKeyState(tx); return }); err != nil {
			t.Fatal(err)
		}
		return ps.SignedID != old.GetSignedEc().GetId() && ps.SignedUploaded
	})
	if nb := fetchBundle(t, alice, b); nb.GetSignedEc().GetId() == old.GetSignedEc().GetId() {
		t.Fatal("the server still hands out the replaced signed prekey")
	}
	oldLR := lastResortOf(t, bob, old)
	if !hasPreKey(t, bob, store.SignedPreKey, old.GetSignedEc().GetId()) || !hasPreKey(t, bob, store.KyberPreKey, oldLR) {
		t.Fatal("the replaced signed or last-resort prekey is gone at once; first messages on their way need them")
	}

	// Long after, the replaced pair is deleted; the current one stays.
	clk.Advance(core.RetiredPreKeyKeep)
	var ps core.PreKeyState
	if err := bob.c.core.Update(func(tx *store.Tx) (err error) {
		if _, err = bob.c.core.RotatePreKeys(tx, clk.Now()); err != nil {
			return err
		}
		ps, err = core.LoadPreKeyState(tx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct {
		kind store.PreKeyKind
		id   uint32
	}{{store.SignedPreKey, old.GetSignedEc().GetId()}, {store.KyberPreKey, oldLR}} {
		if hasPreKey(t, bob, k.kind, k.id) {
			t.Fatalf("prekey %d (kind %d) is still kept after %v", k.id, k.kind, core.RetiredPreKeyKeep)
		}
	}
	if !hasPreKey(t, bob, store.SignedPreKey, ps.SignedID) || !hasPreKey(t, bob, store.KyberPreKey, ps.LastResortID) || len(ps.Retired) > 2 {
		t.Fatalf("prekey state after the deletion: %+v", ps)
	}
	// Sessions still start with Bob.
	carol := newUser(t, s, testOptions(clk))
	carol.send(b, "after")
	if got := texts(t, bob, 1); got[0] != "after" {
		t.Fatalf("bob got %q", got)
	}
}

func hasPreKey(t *testing.T, u *user, kind store.PreKeyKind, id uint32) bool {
	t.Helper()
	var ok bool
	err := u.c.core.View(func(tx *store.Tx) error {
		_, err := tx.PreKey(kind, id)
		ok = err == nil
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// lastResortOf returns the last-resort Kyber prekey current when bundle b
// was handed out (the bundle itself may carry a one-time one).
func lastResortOf(t *testing.T, u *user, b *wire.Bundle) uint32 {
	t.Helper()
	if b.GetKyberLastResort() {
		return b.GetKyber().GetId()
	}
	var ps core.PreKeyState
	if err := u.c.core.View(func(tx *store.Tx) (err error) { ps, err = core.LoadPreKeyState(tx); return }); err != nil {
		t.Fatal(err)
	}
	for _, r := range ps.Retired {
		if r.SignedID == b.GetSignedEc().GetId() {
			return r.LastResortID
		}
	}
	t.Fatalf("no record of the last-resort key of signed prekey %d", b.GetSignedEc().GetId())
	return 0
}
