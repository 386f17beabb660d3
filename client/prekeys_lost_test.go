package client

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/wire"
)

// takeOneTime fetches n bundles of account from u's connection and returns
// the one-time prekey IDs they carried ("ec/kyber" pairs), failing the test
// if a bundle has none left.
func takeOneTime(t *testing.T, u *user, account string, n int) []string {
	t.Helper()
	cn, err := u.c.core.Conn(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range n {
		r, err := cn.Call(ctxT(t), &wire.Request{Op: &wire.Request_FetchBundles{FetchBundles: &wire.FetchBundles{Account: account}}})
		if err != nil {
			t.Fatal(err)
		}
		bd := r.GetBundles().GetBundles()[0]
		if bd.GetKyberLastResort() || bd.GetOneTimeEc() == nil {
			t.Fatalf("bundle %d of %d has no one-time keys left", len(ids)+1, n)
		}
		ids = append(ids, fmt.Sprintf("%d/%d", bd.GetOneTimeEc().GetId(), bd.GetKyber().GetId()))
	}
	return ids
}

// TestPreKeyUploadAnswerLost is the crash case of issue 20: the server
// stores an upload of one-time prekeys, but the answer never reaches the
// client (the connection drops, or the client crashes before it records the
// upload). Meanwhile senders take those keys. When the client is back, the
// server must not hand out any of them again: a second sender holding a key
// the first one's message already consumed would have its first message
// refused. The client therefore never offers a one-time key twice.
func TestPreKeyUploadAnswerLost(t *testing.T) {
	s := startSkyd(t)
	ev := startEvil(t, s)
	opts := testOptions(nil)
	opts.PreKeyLow, opts.PreKeyTarget = 5, 8
	opts.PreKeyCheck = 200 * time.Millisecond
	bob := newUserAt(t, s, ev.url(), opts)
	alice := newUser(t, s, testOptions(nil))
	carol := newUser(t, s, testOptions(nil))
	dave := newUser(t, s, testOptions(nil))
	b := bob.c.ID()
	count := func() store.PreKeyCounts {
		n, err := s.st.CountPreKeys(context.Background(), store.Address{Account: b, Device: 1})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitCount := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for n := count(); n.EC < want || n.Kyber < want; n = count() {
			if time.Now().After(deadline) {
				t.Fatalf("server holds %d EC, %d Kyber one-time prekeys of Bob; want at least %d", n.EC, n.Kyber, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	bob.pause()
	served := map[string]bool{}
	for _, id := range takeOneTime(t, alice, b, 8) { // drained while Bob is away
		served[id] = true
	}

	// Bob comes back and tops up. The server stores the upload; the answer
	// is lost, and every later upload is held back until the new keys have
	// been taken by others.
	var mu sync.Mutex
	uploadIDs := map[uint64]bool{}
	lost, hold := false, true
	ev.set(func(acct string, f *wire.Frame) []*wire.Frame {
		mu.Lock()
		defer mu.Unlock()
		if r := f.GetResponse(); r != nil && acct == b && uploadIDs[r.GetId()] && !lost {
			lost = true
			go ev.conn(b).client.CloseNow()
			return nil
		}
		return []*wire.Frame{f}
	}, func(acct string, f *wire.Frame) []*wire.Frame {
		mu.Lock()
		defer mu.Unlock()
		if acct == b && f.GetRequest().GetUploadPrekeys() != nil {
			if lost && hold {
				go ev.conn(b).client.CloseNow()
				return nil
			}
			uploadIDs[f.GetRequest().GetId()] = true
		}
		return []*wire.Frame{f}
	})
	bob.start()
	waitCount(8)
	for _, id := range takeOneTime(t, carol, b, 8) {
		if served[id] {
			t.Fatalf("one-time prekeys %s handed out twice", id)
		}
		served[id] = true
	}
	mu.Lock()
	hold = false
	mu.Unlock()

	// Bob's next upload must bring fresh keys, not the ones just taken.
	// (Uploads held back meanwhile may have been made for a count that was
	// not yet zero, so the server holds at least PreKeyLow again.)
	waitCount(opts.PreKeyLow)
	for _, id := range takeOneTime(t, dave, b, opts.PreKeyLow) {
		if served[id] {
			t.Fatalf("after the lost answer, the server handed out one-time prekeys %s a second time: the client uploaded keys it had offered before", id)
		}
	}
}

// TestPreKeyTopUpAfterDrain (issue 10, item 4): someone takes a connected
// client's one-time prekeys without sending anything, so no first message
// tells the client its keys were used. It still tops up soon, from the
// count it asks the server for every PreKeyCheck.
func TestPreKeyTopUpAfterDrain(t *testing.T) {
	s := startSkyd(t)
	opts := testOptions(nil)
	opts.PreKeyLow, opts.PreKeyTarget = 5, 8
	opts.PreKeyCheck = 300 * time.Millisecond
	bob := newUser(t, s, opts)
	mallory := newUser(t, s, testOptions(nil))
	b := bob.c.ID()
	taken := map[string]bool{}
	for _, id := range takeOneTime(t, mallory, b, 6) {
		taken[id] = true
	}
	start := time.Now()
	waitPreKeys(t, bob, 8)
	t.Logf("topped up %v after the drain", time.Since(start).Round(time.Millisecond))
	for _, id := range takeOneTime(t, bob, b, 2) {
		if taken[id] {
			t.Fatalf("one-time prekeys %s handed out twice", id)
		}
	}
}
