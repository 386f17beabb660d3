package client

import (
	"testing"
	"time"

	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/wire"
)

// TestPreKeyTopUp is the client half of acceptance test 12: someone claims
// Bob's one-time prekeys; Bob's client refills them when fewer than the
// threshold are left, and a session still starts (last-resort Kyber key)
// while they are out.
func TestPreKeyTopUp(t *testing.T) {
	s := startSkyd(t)
	opts := testOptions(nil)
	opts.PreKeyLow, opts.PreKeyTarget = 5, 8
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, opts)
	b := bob.c.ID()
	if ec, ky, err := bob.c.PreKeyCounts(ctxT(t)); err != nil || ec != 8 || ky != 8 {
		t.Fatalf("after registration: %d EC, %d Kyber, %v", ec, ky, err)
	}
	cn, err := alice.c.connected(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for range 8 { // the server's burst for one requester–target pair is 10
		if _, err := cn.Call(ctxT(t), &wire.Request{Op: &wire.Request_FetchBundles{FetchBundles: &wire.FetchBundles{Account: b}}}); err != nil {
			t.Fatal(err)
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

// TestLocalPreKeysBounded: a server that keeps asking for prekeys cannot
// make the store grow without end.
func TestLocalPreKeysBounded(t *testing.T) {
	s := startSkyd(t)
	bob := newUser(t, s, testOptions(nil))
	for range 15 {
		if err := bob.c.update(func(tx *store.Tx) error { return bob.c.generatePreKeys(tx, 100, 100) }); err != nil {
			t.Fatal(err)
		}
	}
	bob.c.view(func(tx *store.Tx) error {
		ec, _ := tx.PreKeyIDs(store.OneTimePreKey)
		ky, _ := tx.PreKeyIDs(store.KyberPreKey)
		if len(ec) != maxLocalPreKeys || len(ky) != maxLocalPreKeys+1 { // + the last-resort key
			t.Errorf("%d EC and %d Kyber prekeys kept", len(ec), len(ky))
		}
		ps, _ := loadPreKeyState(tx)
		if _, err := tx.PreKey(store.KyberPreKey, ps.LastResortID); err != nil {
			t.Errorf("the last-resort key went: %v", err)
		}
		if ec[0] != ps.NextEC-maxLocalPreKeys+1 {
			t.Errorf("not the oldest were pruned: first kept %d, next %d", ec[0], ps.NextEC)
		}
		return nil
	})
}

// FuzzSettings feeds the SDK's own record decoders (settings, outbox items,
// held-message states) arbitrary bytes: errors, never panics.
func FuzzSettings(f *testing.F) {
	f.Add([]byte(encodeOutItem(outItem{Content: []byte("c"), Sealed: []deviceCiphertext{{Device: 1, Bytes: []byte{2, 1}}}})))
	f.Add(putBytes(putNum(nil, 1, 5), 2, putNum(putNum(putNum(nil, 1, 7), 2, 3), 3, 99)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeOutItem(b)
		if fs, err := decodeFields(b); err == nil {
			fs.one(1)
			for _, h := range fs.bytes[2] {
				decodeFields(h)
			}
		}
	})
}
