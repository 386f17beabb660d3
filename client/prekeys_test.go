package client

import (
	"testing"
	"time"

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
