// Package storetest is the conformance suite every store.Store backend
// runs: the same behaviour, checked the same way, for SQLite, PostgreSQL and
// any backend added later.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/skymsg/sky/server/store"
)

// Opener returns a fresh, empty store for one subtest. The suite closes it.
type Opener func(t *testing.T) store.Store

// t0 is the suite's fixed "now"; backends never read the clock.
var t0 = time.Date(2030, 3, 14, 15, 9, 26, 0, time.UTC)

// Run runs the whole conformance suite against the backend open returns.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"Register", testRegister},
		{"RegisterCollisionKeepsCode", testRegisterCollision},
		{"CodeExpiry", testCodeExpiry},
		{"ListRevokeCodes", testListRevokeCodes},
		{"ExtendRevokeList", testExtendRevokeList},
		{"DeleteAccount", testDeleteAccount},
		{"PreKeys", testPreKeys},
		{"PreKeyLimit", testPreKeyLimit},
		{"BundlesAllDevices", testBundlesAllDevices},
		{"ConcurrentBundles", testConcurrentBundles},
		{"QueueOrderAndAck", testQueueOrderAndAck},
		{"QueueIsolation", testQueueIsolation},
		{"QueuePrevs", testQueuePrevs},
		{"QueueCap", testQueueCap},
		{"QueueUnknownRecipient", testQueueUnknownRecipient},
		{"Expiry", testExpiry},
		{"Secret", testSecret},
		{"Sealed", testSealed},
		{"Pipelined", testPipelined},
		{"KeyDir", testKeyDir},
		{"KeyDirOneWriter", testKeyDirOneWriter},
		{"Devices", testDevices},
		{"Links", testLinks},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

func codeHash(code string) [32]byte { return sha256.Sum256([]byte(code)) }

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// newAccount registers an account with a fresh code and returns it.
func newAccount(t *testing.T, s store.Store, id string) store.Account {
	t.Helper()
	code := "code-" + id
	if err := s.AddCodes(ctx(t), []store.Code{{Hash: codeHash(code), Period: 90 * 24 * time.Hour, Expires: t0.Add(24 * time.Hour)}}); err != nil {
		t.Fatalf("AddCodes: %v", err)
	}
	a, err := s.Register(ctx(t), store.Registration{CodeHash: codeHash(code), ID: id, IdentityKey: randBytes(33), AuthKey: randBytes(32), RegistrationID: 42}, t0)
	if err != nil {
		t.Fatalf("Register(%s): %v", id, err)
	}
	return a
}

func testRegister(t *testing.T, s store.Store) {
	empty, err := s.Empty(ctx(t))
	if err != nil || !empty {
		t.Fatalf("Empty on a new store = %v, %v; want true", empty, err)
	}
	if err := s.AddCodes(ctx(t), []store.Code{{Hash: codeHash("good"), Period: 30 * 24 * time.Hour, Expires: t0.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if empty, _ := s.Empty(ctx(t)); empty {
		t.Fatal("Empty after AddCodes = true")
	}
	ik, ak := randBytes(33), randBytes(32)
	reg := store.Registration{CodeHash: codeHash("good"), ID: "acct1", IdentityKey: ik, AuthKey: ak, RegistrationID: 7}
	a, err := s.Register(ctx(t), reg, t0)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	wantDay := time.Date(2030, 3, 14, 0, 0, 0, 0, time.UTC)
	if a.ID != "acct1" || !a.Created.Equal(wantDay) || !a.SubscriptionEnd.Equal(time.Date(2030, 4, 14, 0, 0, 0, 0, time.UTC)) || a.Revoked || !bytes.Equal(a.IdentityKey, ik) {
		t.Fatalf("Register returned %+v", a)
	}
	got, err := s.Account(ctx(t), "acct1")
	if err != nil || got.ID != a.ID || !got.Created.Equal(a.Created) || !got.SubscriptionEnd.Equal(a.SubscriptionEnd) || !bytes.Equal(got.IdentityKey, ik) {
		t.Fatalf("Account = %+v, %v; want %+v", got, err, a)
	}
	d, err := s.Device(ctx(t), store.Address{Account: "acct1", Device: 1})
	if err != nil || !bytes.Equal(d.AuthKey, ak) || d.RegistrationID != 7 {
		t.Fatalf("Device = %+v, %v", d, err)
	}
	if _, err := s.Device(ctx(t), store.Address{Account: "acct1", Device: 2}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Device 2: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Account(ctx(t), "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Account(nobody): err = %v, want ErrNotFound", err)
	}
	// The code is single use.
	reg.ID = "acct2"
	if _, err := s.Register(ctx(t), reg, t0); !errors.Is(err, store.ErrCodeUnknown) {
		t.Fatalf("reusing a code: err = %v, want ErrCodeUnknown", err)
	}
	reg.CodeHash = codeHash("never issued")
	if _, err := s.Register(ctx(t), reg, t0); !errors.Is(err, store.ErrCodeUnknown) {
		t.Fatalf("unknown code: err = %v, want ErrCodeUnknown", err)
	}
	if _, err := s.Account(ctx(t), "acct2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("failed registration created an account: %v", err)
	}
}

func testRegisterCollision(t *testing.T, s store.Store) {
	newAccount(t, s, "taken")
	s.AddCodes(ctx(t), []store.Code{{Hash: codeHash("c"), Period: time.Hour, Expires: t0.Add(time.Hour)}})
	reg := store.Registration{CodeHash: codeHash("c"), ID: "taken", IdentityKey: randBytes(33), AuthKey: randBytes(32)}
	if _, err := s.Register(ctx(t), reg, t0); !errors.Is(err, store.ErrAccountExists) {
		t.Fatalf("colliding ID: err = %v, want ErrAccountExists", err)
	}
	// The code survives a failed registration.
	reg.ID = "fresh"
	if _, err := s.Register(ctx(t), reg, t0); err != nil {
		t.Fatalf("retry with a new ID: %v", err)
	}
}

func testCodeExpiry(t *testing.T, s store.Store) {
	s.AddCodes(ctx(t), []store.Code{
		{Hash: codeHash("old"), Period: time.Hour, Expires: t0},
		{Hash: codeHash("new"), Period: time.Hour, Expires: t0.Add(time.Second)},
	})
	reg := store.Registration{CodeHash: codeHash("old"), ID: "x", IdentityKey: randBytes(33), AuthKey: randBytes(32)}
	if _, err := s.Register(ctx(t), reg, t0); !errors.Is(err, store.ErrCodeExpired) {
		t.Fatalf("code expiring now: err = %v, want ErrCodeExpired", err)
	}
	n, err := s.SweepCodes(ctx(t), t0)
	if err != nil || n != 1 {
		t.Fatalf("SweepCodes = %d, %v; want 1", n, err)
	}
	if _, err := s.Register(ctx(t), reg, t0); !errors.Is(err, store.ErrCodeUnknown) {
		t.Fatalf("swept code: err = %v, want ErrCodeUnknown", err)
	}
	reg.CodeHash = codeHash("new")
	if _, err := s.Register(ctx(t), reg, t0); err != nil {
		t.Fatalf("unexpired code: %v", err)
	}
}

func testExtendRevokeList(t *testing.T, s store.Store) {
	newAccount(t, s, "bbb")
	a := newAccount(t, s, "aaa")
	list, err := s.ListAccounts(ctx(t))
	if err != nil || len(list) != 2 || list[0].ID != "aaa" || list[1].ID != "bbb" {
		t.Fatalf("ListAccounts = %+v, %v", list, err)
	}
	// Extending an active subscription adds to its end. Ends are days
	// (midnight UTC): the hour of an extension is not kept.
	got, err := s.Extend(ctx(t), "aaa", 10*24*time.Hour+time.Hour, t0)
	if want := a.SubscriptionEnd.Add(11 * 24 * time.Hour); err != nil || !got.SubscriptionEnd.Equal(want) {
		t.Fatalf("Extend = %v, %v; want end %v", got.SubscriptionEnd, err, want)
	}
	// Extending a lapsed one counts from now.
	later := a.SubscriptionEnd.Add(100*24*time.Hour + 5*time.Hour)
	got, err = s.Extend(ctx(t), "aaa", 24*time.Hour, later)
	if want := store.CeilDay(later.Add(24 * time.Hour)); err != nil || !got.SubscriptionEnd.Equal(want) || want.Equal(later.Add(24*time.Hour)) {
		t.Fatalf("Extend after lapse = %v, %v; want %v", got.SubscriptionEnd, err, want)
	}
	if err := s.Revoke(ctx(t), "aaa"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Account(ctx(t), "aaa"); !got.Revoked {
		t.Fatal("Revoke did not mark the account revoked")
	}
	if got, _ := s.Extend(ctx(t), "aaa", time.Hour, later); got.Revoked {
		t.Fatal("Extend did not clear the revocation")
	}
	if err := s.Revoke(ctx(t), "zzz"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Revoke(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := s.Extend(ctx(t), "zzz", time.Hour, t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Extend(unknown) = %v, want ErrNotFound", err)
	}
}

func testDeleteAccount(t *testing.T, s store.Store) {
	newAccount(t, s, "alice")
	newAccount(t, s, "bob")
	alice := store.Address{Account: "alice", Device: 1}
	bob := store.Address{Account: "bob", Device: 1}
	uploadFull(t, s, alice, 5)
	b := &store.Batch{QueueCap: 100, Messages: []store.NewMessage{
		{To: alice, Received: t0, Body: []byte("x")},
		{To: bob, Received: t0, Body: []byte("y")},
	}}
	if err := s.WriteBatch(ctx(t), b); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAccount(ctx(t), "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Account(ctx(t), "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted account still there: %v", err)
	}
	if _, err := s.Device(ctx(t), alice); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted device still there: %v", err)
	}
	if msgs, err := s.Pending(ctx(t), alice, 0, t0.Add(-time.Hour), 10); err != nil || len(msgs) != 0 {
		t.Fatalf("deleted account's queue = %d messages, %v", len(msgs), err)
	}
	if _, err := s.TakeBundles(ctx(t), "alice", 1, true); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted account's bundle: %v", err)
	}
	if msgs, _ := s.Pending(ctx(t), bob, 0, t0.Add(-time.Hour), 10); len(msgs) != 1 {
		t.Fatalf("bob's queue lost messages: %d", len(msgs))
	}
	if err := s.DeleteAccount(ctx(t), "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	// A new account may not reuse the deleted one's keys: nothing is left.
	if n, _ := s.Sweep(ctx(t), t0.Add(time.Hour)); n != 1 {
		t.Fatalf("Sweep after delete found %d messages, want 1 (bob's)", n)
	}
}

func pk(id uint32, size int, signed bool) store.PreKey {
	k := store.PreKey{ID: id, Key: randBytes(size)}
	if signed {
		k.Signature = randBytes(64)
	}
	return k
}

// uploadFull uploads signed keys and n one-time keys of each kind with IDs
// 1..n.
func uploadFull(t *testing.T, s store.Store, a store.Address, n int) store.PreKeyUpload {
	t.Helper()
	spk, lr := pk(1, 33, true), pk(1000, 1569, true)
	u := store.PreKeyUpload{SignedEC: &spk, LastResortKyber: &lr}
	for i := 1; i <= n; i++ {
		u.OneTimeEC = append(u.OneTimeEC, pk(uint32(i), 33, false))
		u.OneTimeKyber = append(u.OneTimeKyber, pk(uint32(i), 1569, true))
	}
	if err := s.UploadPreKeys(ctx(t), a, u); err != nil {
		t.Fatalf("UploadPreKeys: %v", err)
	}
	return u
}

func samePreKey(a, b store.PreKey) bool {
	return a.ID == b.ID && bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Signature, b.Signature)
}

func testPreKeys(t *testing.T, s store.Store) {
	acct := newAccount(t, s, "bob")
	bob := store.Address{Account: "bob", Device: 1}
	if _, err := s.TakeBundles(ctx(t), "bob", 1, true); !errors.Is(err, store.ErrNoPreKeys) {
		t.Fatalf("bundle before upload: %v, want ErrNoPreKeys", err)
	}
	if err := s.UploadPreKeys(ctx(t), store.Address{Account: "bob", Device: 9}, store.PreKeyUpload{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("upload to unknown device: %v, want ErrNotFound", err)
	}
	u := uploadFull(t, s, bob, 2)
	// Re-uploading a key with the same ID replaces it (idempotent retries).
	u.OneTimeEC[1] = pk(2, 33, false)
	if err := s.UploadPreKeys(ctx(t), bob, store.PreKeyUpload{OneTimeEC: u.OneTimeEC[1:]}); err != nil {
		t.Fatal(err)
	}
	c, err := s.CountPreKeys(ctx(t), bob)
	if err != nil || c != (store.PreKeyCounts{EC: 2, Kyber: 2}) {
		t.Fatalf("CountPreKeys = %+v, %v", c, err)
	}
	// Without one-time keys: the signed and last-resort keys, nothing
	// consumed (what a target's drained budget gets).
	if bs, err := s.TakeBundles(ctx(t), "bob", 1, false); err != nil || len(bs) != 1 || bs[0].OneTimeEC != nil ||
		!bs[0].KyberLastResort || !samePreKey(bs[0].Kyber, *u.LastResortKyber) || !samePreKey(bs[0].SignedEC, *u.SignedEC) {
		t.Fatalf("bundle without one-time keys = %+v, %v", bs, err)
	}
	if c, _ := s.CountPreKeys(ctx(t), bob); c != (store.PreKeyCounts{EC: 2, Kyber: 2}) {
		t.Fatalf("a bundle without one-time keys consumed some: %+v", c)
	}
	for i := 0; i < 2; i++ {
		bs, err := s.TakeBundles(ctx(t), "bob", 1, true)
		if err != nil || len(bs) != 1 {
			t.Fatalf("TakeBundles: %v, %v", bs, err)
		}
		b := bs[0]
		if b.Device != 1 || b.RegistrationID != 42 || !bytes.Equal(b.IdentityKey, acct.IdentityKey) ||
			!samePreKey(b.SignedEC, *u.SignedEC) || b.KyberLastResort ||
			!samePreKey(b.Kyber, u.OneTimeKyber[i]) || b.OneTimeEC == nil || !samePreKey(*b.OneTimeEC, u.OneTimeEC[i]) {
			t.Fatalf("bundle %d = %+v", i, b)
		}
	}
	if c, _ := s.CountPreKeys(ctx(t), bob); c != (store.PreKeyCounts{}) {
		t.Fatalf("counts after taking all = %+v", c)
	}
	bs, err := s.TakeBundles(ctx(t), "bob", 1, true)
	if err != nil || len(bs) != 1 || bs[0].OneTimeEC != nil || !bs[0].KyberLastResort || !samePreKey(bs[0].Kyber, *u.LastResortKyber) {
		t.Fatalf("exhausted bundle = %+v, %v; want last resort and no one-time EC", bs, err)
	}
	// New signed keys replace the old ones.
	spk := pk(2, 33, true)
	s.UploadPreKeys(ctx(t), bob, store.PreKeyUpload{SignedEC: &spk})
	if bs, _ := s.TakeBundles(ctx(t), "bob", 1, true); !samePreKey(bs[0].SignedEC, spk) {
		t.Fatalf("signed prekey not replaced: %+v", bs[0].SignedEC)
	}
	if _, err := s.TakeBundles(ctx(t), "bob", 5, true); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bundle of unknown device: %v", err)
	}
	if _, err := s.TakeBundles(ctx(t), "nobody", 1, true); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bundle of unknown account: %v", err)
	}
}

func testPreKeyLimit(t *testing.T, s store.Store) {
	newAccount(t, s, "bob")
	bob := store.Address{Account: "bob", Device: 1}
	var u store.PreKeyUpload
	for i := 0; i < store.MaxStoredOneTime; i++ {
		u.OneTimeEC = append(u.OneTimeEC, pk(uint32(i), 33, false))
	}
	if err := s.UploadPreKeys(ctx(t), bob, u); err != nil {
		t.Fatal(err)
	}
	over := store.PreKeyUpload{OneTimeEC: []store.PreKey{pk(5000, 33, false)}, OneTimeKyber: []store.PreKey{pk(1, 1569, true)}}
	if err := s.UploadPreKeys(ctx(t), bob, over); !errors.Is(err, store.ErrTooManyPreKeys) {
		t.Fatalf("upload over the limit: %v, want ErrTooManyPreKeys", err)
	}
	// Nothing of the rejected upload was applied.
	if c, _ := s.CountPreKeys(ctx(t), bob); c != (store.PreKeyCounts{EC: store.MaxStoredOneTime}) {
		t.Fatalf("counts after rejected upload = %+v", c)
	}
	// Replacing existing IDs does not count as growth.
	if err := s.UploadPreKeys(ctx(t), bob, store.PreKeyUpload{OneTimeEC: u.OneTimeEC[:3]}); err != nil {
		t.Fatalf("replacing at the limit: %v", err)
	}
}

func testBundlesAllDevices(t *testing.T, s store.Store) {
	newAccount(t, s, "bob")
	uploadFull(t, s, store.Address{Account: "bob", Device: 1}, 1)
	bs, err := s.TakeBundles(ctx(t), "bob", 0, true)
	if err != nil || len(bs) != 1 || bs[0].Device != 1 || bs[0].OneTimeEC == nil {
		t.Fatalf("TakeBundles(all, true) = %+v, %v", bs, err)
	}
}

func testConcurrentBundles(t *testing.T, s store.Store) {
	newAccount(t, s, "bob")
	const keys, takers = 40, 64
	uploadFull(t, s, store.Address{Account: "bob", Device: 1}, keys)
	var (
		mu         sync.Mutex
		ec, kyber  = map[uint32]int{}, map[uint32]int{}
		lastResort int
		noEC       int
		wg         sync.WaitGroup
		errs       = make(chan error, takers)
		start      = make(chan struct{})
	)
	for i := 0; i < takers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			bs, err := s.TakeBundles(context.Background(), "bob", 1, true)
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if bs[0].OneTimeEC == nil {
				noEC++
			} else {
				ec[bs[0].OneTimeEC.ID]++
			}
			if bs[0].KyberLastResort {
				lastResort++
			} else {
				kyber[bs[0].Kyber.ID]++
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent TakeBundles: %v", err)
	}
	for id, n := range ec {
		if n != 1 {
			t.Errorf("one-time EC prekey %d handed out %d times", id, n)
		}
	}
	for id, n := range kyber {
		if n != 1 {
			t.Errorf("one-time Kyber prekey %d handed out %d times", id, n)
		}
	}
	if len(ec) != keys || noEC != takers-keys || len(kyber) != keys || lastResort != takers-keys {
		t.Fatalf("got %d EC + %d without, %d Kyber + %d last resort; want %d + %d each", len(ec), noEC, len(kyber), lastResort, keys, takers-keys)
	}
}

// send enqueues one message and returns its sequence number.
func send(t *testing.T, s store.Store, m store.NewMessage) uint64 {
	t.Helper()
	b := &store.Batch{QueueCap: 1000, Messages: []store.NewMessage{m}}
	if err := s.WriteBatch(ctx(t), b); err != nil || b.Errs[0] != nil {
		t.Fatalf("WriteBatch: %v, %v", err, b.Errs)
	}
	return b.Seqs[0]
}

func testQueueOrderAndAck(t *testing.T, s store.Store) {
	newAccount(t, s, "alice")
	newAccount(t, s, "bob")
	bob := store.Address{Account: "bob", Device: 1}
	b := &store.Batch{QueueCap: 1000}
	for i := 0; i < 10; i++ {
		b.Messages = append(b.Messages, store.NewMessage{To: bob, Received: t0.Add(time.Duration(i) * time.Second), Body: []byte(fmt.Sprint("m", i))})
	}
	if err := s.WriteBatch(ctx(t), b); err != nil {
		t.Fatal(err)
	}
	if len(b.Seqs) != 10 || len(b.Errs) != 10 {
		t.Fatalf("WriteBatch filled %d seqs and %d errs", len(b.Seqs), len(b.Errs))
	}
	for i := 1; i < 10; i++ {
		if b.Errs[i] != nil || b.Seqs[i] <= b.Seqs[i-1] {
			t.Fatalf("seqs not increasing in batch order: %v (errs %v)", b.Seqs, b.Errs)
		}
	}
	next := send(t, s, store.NewMessage{To: bob, Received: t0, Body: []byte("later")})
	if next <= b.Seqs[9] {
		t.Fatalf("later batch got seq %d <= %d", next, b.Seqs[9])
	}
	msgs, err := s.Pending(ctx(t), bob, 0, t0.Add(-time.Hour), 4)
	if err != nil || len(msgs) != 4 {
		t.Fatalf("Pending = %d, %v", len(msgs), err)
	}
	for i, m := range msgs {
		if m.Seq != b.Seqs[i] || m.To != bob || string(m.Body) != fmt.Sprint("m", i) || !m.Received.Equal(t0.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("message %d = %+v", i, m)
		}
	}
	rest, _ := s.Pending(ctx(t), bob, msgs[3].Seq, t0.Add(-time.Hour), 100)
	if len(rest) != 7 || rest[0].Seq != b.Seqs[4] || string(rest[6].Body) != "later" {
		t.Fatalf("Pending after %d = %d messages", msgs[3].Seq, len(rest))
	}
	ack := &store.Batch{Acks: []store.Ack{{To: bob, Seqs: []uint64{b.Seqs[0], b.Seqs[2], 999999999}}}}
	if err := s.WriteBatch(ctx(t), ack); err != nil {
		t.Fatal(err)
	}
	left, _ := s.Pending(ctx(t), bob, 0, t0.Add(-time.Hour), 100)
	if len(left) != 9 || left[0].Seq != b.Seqs[1] || left[1].Seq != b.Seqs[3] {
		t.Fatalf("after ack: %d left, first seqs %d %d", len(left), left[0].Seq, left[1].Seq)
	}
}

// testQueuePrevs: each message's Prevs entry covers every message queued
// for its recipient before it (within the batch and before it) and is below
// its own Seq; other devices' messages do not count.
func testQueuePrevs(t *testing.T, s store.Store) {
	newAccount(t, s, "alice")
	newAccount(t, s, "bob")
	newAccount(t, s, "carol")
	bob := store.Address{Account: "bob", Device: 1}
	carol := store.Address{Account: "carol", Device: 1}
	msg := func(to store.Address) store.NewMessage {
		return store.NewMessage{To: to, Received: t0, Body: []byte("x")}
	}
	first := &store.Batch{QueueCap: 100, Messages: []store.NewMessage{msg(bob), msg(carol), msg(bob)}}
	if err := s.WriteBatch(ctx(t), first); err != nil {
		t.Fatal(err)
	}
	if len(first.Prevs) != 3 || first.Prevs[0] != 0 || first.Prevs[1] != 0 || first.Prevs[2] != first.Seqs[0] {
		t.Fatalf("first batch: seqs %v, prevs %v; want prevs [0 0 %d]", first.Seqs, first.Prevs, first.Seqs[0])
	}
	second := &store.Batch{QueueCap: 100, Messages: []store.NewMessage{msg(carol), msg(bob)}}
	if err := s.WriteBatch(ctx(t), second); err != nil {
		t.Fatal(err)
	}
	if second.Prevs[0] < first.Seqs[1] || second.Prevs[0] >= second.Seqs[0] ||
		second.Prevs[1] < first.Seqs[2] || second.Prevs[1] >= second.Seqs[1] {
		t.Fatalf("second batch: seqs %v, prevs %v; first batch's seqs %v", second.Seqs, second.Prevs, first.Seqs)
	}
	// After every message is acknowledged, what comes next is covered by
	// anything below its own number.
	ack := &store.Batch{QueueCap: 100, Acks: []store.Ack{{To: bob, Seqs: []uint64{first.Seqs[0], first.Seqs[2], second.Seqs[1]}}},
		Messages: []store.NewMessage{msg(bob)}}
	if err := s.WriteBatch(ctx(t), ack); err != nil {
		t.Fatal(err)
	}
	if ack.Prevs[0] >= ack.Seqs[0] {
		t.Fatalf("after acks: seq %d, prev %d", ack.Seqs[0], ack.Prevs[0])
	}
}

func testQueueIsolation(t *testing.T, s store.Store) {
	newAccount(t, s, "alice")
	newAccount(t, s, "bob")
	alice := store.Address{Account: "alice", Device: 1}
	bob := store.Address{Account: "bob", Device: 1}
	seq := send(t, s, store.NewMessage{To: bob, Received: t0, Body: []byte("for bob")})
	// Alice (or anyone not bob/1) acknowledging bob's message changes nothing.
	for _, a := range []store.Address{alice, {Account: "bob", Device: 2}, {Account: "alice", Device: 0}} {
		if err := s.WriteBatch(ctx(t), &store.Batch{Acks: []store.Ack{{To: a, Seqs: []uint64{seq}}}}); err != nil {
			t.Fatal(err)
		}
	}
	if msgs, _ := s.Pending(ctx(t), alice, 0, t0.Add(-time.Hour), 10); len(msgs) != 0 {
		t.Fatalf("alice sees %d of bob's messages", len(msgs))
	}
	if msgs, _ := s.Pending(ctx(t), bob, 0, t0.Add(-time.Hour), 10); len(msgs) != 1 || msgs[0].Seq != seq {
		t.Fatalf("bob's message was deleted by someone else's ack: %v", msgs)
	}
}

func testQueueCap(t *testing.T, s store.Store) {
	newAccount(t, s, "bob")
	bob := store.Address{Account: "bob", Device: 1}
	b := &store.Batch{QueueCap: 3}
	for i := 0; i < 5; i++ {
		b.Messages = append(b.Messages, store.NewMessage{To: bob, Received: t0, Body: []byte{byte(i)}})
	}
	if err := s.WriteBatch(ctx(t), b); err != nil {
		t.Fatal(err)
	}
	for i, err := range b.Errs {
		if want := i >= 3; errors.Is(err, store.ErrQueueFull) != want || (!want && err != nil) {
			t.Fatalf("message %d: err = %v (all: %v)", i, err, b.Errs)
		}
	}
	msgs, _ := s.Pending(ctx(t), bob, 0, t0.Add(-time.Hour), 10)
	if len(msgs) != 3 {
		t.Fatalf("queue holds %d, want 3", len(msgs))
	}
	// Acknowledging frees room; acknowledging twice frees it once.
	ack := store.Ack{To: bob, Seqs: []uint64{msgs[0].Seq}}
	b = &store.Batch{QueueCap: 3, Acks: []store.Ack{ack, ack}, Messages: []store.NewMessage{{To: bob, Received: t0, Body: []byte("a")}, {To: bob, Received: t0, Body: []byte("b")}}}
	if err := s.WriteBatch(ctx(t), b); err != nil {
		t.Fatal(err)
	}
	if b.Errs[0] != nil || !errors.Is(b.Errs[1], store.ErrQueueFull) {
		t.Fatalf("after one ack: errs %v, want [nil ErrQueueFull]", b.Errs)
	}
	// Sweeping frees room too.
	s.Sweep(ctx(t), t0)
	b = &store.Batch{QueueCap: 3, Messages: []store.NewMessage{{To: bob, Received: t0.Add(time.Hour), Body: []byte("c")}}}
	if err := s.WriteBatch(ctx(t), b); err != nil || b.Errs[0] != nil {
		t.Fatalf("after sweep: %v %v", err, b.Errs)
	}
}

func testQueueUnknownRecipient(t *testing.T, s store.Store) {
	newAccount(t, s, "bob")
	b := &store.Batch{QueueCap: 10, Messages: []store.NewMessage{
		{To: store.Address{Account: "nobody", Device: 1}, Received: t0, Body: []byte("x")},
		{To: store.Address{Account: "bob", Device: 1}, Received: t0, Body: []byte("y")},
		{To: store.Address{Account: "bob", Device: 2}, Received: t0, Body: []byte("z")},
	}}
	if err := s.WriteBatch(ctx(t), b); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(b.Errs[0], store.ErrNotFound) || b.Errs[1] != nil || !errors.Is(b.Errs[2], store.ErrNotFound) {
		t.Fatalf("errs = %v", b.Errs)
	}
}

func testExpiry(t *testing.T, s store.Store) {
	newAccount(t, s, "bob")
	bob := store.Address{Account: "bob", Device: 1}
	const ttl = 48 * time.Hour
	old := send(t, s, store.NewMessage{To: bob, Received: t0, Body: []byte("old")})
	young := send(t, s, store.NewMessage{To: bob, Received: t0.Add(time.Minute), Body: []byte("young")})
	// At ttl - 1s the old message is still served.
	now := t0.Add(ttl - time.Second)
	if msgs, _ := s.Pending(ctx(t), bob, 0, now.Add(-ttl), 10); len(msgs) != 2 {
		t.Fatalf("at ttl-1s: %d messages, want 2", len(msgs))
	}
	// At ttl + 1s it is not served, even before the sweeper runs.
	now = t0.Add(ttl + time.Second)
	msgs, _ := s.Pending(ctx(t), bob, 0, now.Add(-ttl), 10)
	if len(msgs) != 1 || msgs[0].Seq != young {
		t.Fatalf("at ttl+1s: %v, want only %d", msgs, young)
	}
	n, err := s.Sweep(ctx(t), now.Add(-ttl))
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	// Swept rows are gone for any cutoff.
	if msgs, _ := s.Pending(ctx(t), bob, 0, time.Unix(0, 0), 10); len(msgs) != 1 || msgs[0].Seq == old {
		t.Fatalf("after sweep: %v", msgs)
	}
	if n, _ := s.Sweep(ctx(t), now.Add(-ttl)); n != 0 {
		t.Fatalf("second sweep deleted %d", n)
	}
}

func testSecret(t *testing.T, s store.Store) {
	a, err := s.Secret(ctx(t), "ids", 16)
	if err != nil || len(a) != 16 || bytes.Equal(a, make([]byte, 16)) {
		t.Fatalf("Secret = %x, %v", a, err)
	}
	b, _ := s.Secret(ctx(t), "ids", 16)
	c, _ := s.Secret(ctx(t), "other", 16)
	if !bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Fatalf("Secret not stable per name: %x %x %x", a, b, c)
	}
}

// testPipelined checks CommitBatch for backends that implement it: a
// committed batch's messages stay invisible until its wait returns, and
// batches committed before earlier waits keep their order.
func testPipelined(t *testing.T, s store.Store) {
	pq, ok := s.(store.PipelinedQueue)
	if !ok {
		t.Skip("this backend commits each batch durably before the next")
	}
	newAccount(t, s, "bob")
	bob := store.Address{Account: "bob", Device: 1}
	var waits []func() error
	var seqs []uint64
	for i := range 3 {
		b := &store.Batch{QueueCap: 100, Messages: []store.NewMessage{{To: bob, Received: t0, Body: []byte{byte(i)}}}}
		wait, err := pq.CommitBatch(ctx(t), b)
		if err != nil || b.Errs[0] != nil {
			t.Fatalf("CommitBatch %d: %v %v", i, err, b.Errs)
		}
		if len(seqs) > 0 && b.Seqs[0] <= seqs[len(seqs)-1] {
			t.Fatalf("batch %d got seq %d after %d", i, b.Seqs[0], seqs[len(seqs)-1])
		}
		seqs = append(seqs, b.Seqs[0])
		waits = append(waits, wait)
	}
	if msgs, err := s.Pending(ctx(t), bob, 0, t0.Add(-time.Hour), 10); err != nil || len(msgs) != 0 {
		t.Fatalf("Pending before any wait = %d messages, %v; want none", len(msgs), err)
	}
	if err := waits[0](); err != nil {
		t.Fatal(err)
	}
	msgs, _ := s.Pending(ctx(t), bob, 0, t0.Add(-time.Hour), 10)
	if len(msgs) == 0 || msgs[0].Seq != seqs[0] {
		t.Fatalf("after the first wait Pending = %v, want the first batch first", msgs)
	}
	for _, w := range waits[1:] {
		if err := w(); err != nil {
			t.Fatal(err)
		}
	}
	msgs, _ = s.Pending(ctx(t), bob, 0, t0.Add(-time.Hour), 10)
	if len(msgs) != 3 || msgs[2].Seq != seqs[2] {
		t.Fatalf("after every wait Pending = %d messages", len(msgs))
	}
	// WriteBatch after pipelined commits is durable on return.
	last := send(t, s, store.NewMessage{To: bob, Received: t0, Body: []byte("last")})
	msgs, _ = s.Pending(ctx(t), bob, seqs[2], t0.Add(-time.Hour), 10)
	if len(msgs) != 1 || msgs[0].Seq != last {
		t.Fatalf("WriteBatch's message not visible on return: %v", msgs)
	}
}

func testListRevokeCodes(t *testing.T, s store.Store) {
	if cs, err := s.ListCodes(ctx(t)); err != nil || len(cs) != 0 {
		t.Fatalf("ListCodes on an empty store = %v, %v", cs, err)
	}
	codes := []store.Code{
		{Hash: codeHash("b"), Period: 30 * 24 * time.Hour, Expires: t0.Add(48 * time.Hour)},
		{Hash: codeHash("a"), Period: 90 * 24 * time.Hour, Expires: t0.Add(24 * time.Hour), Created: t0},
		{Hash: codeHash("redeemed"), Period: time.Hour, Expires: t0.Add(24 * time.Hour)},
	}
	if err := s.AddCodes(ctx(t), codes); err != nil {
		t.Fatal(err)
	}
	reg := store.Registration{CodeHash: codeHash("redeemed"), ID: "acct", IdentityKey: randBytes(33), AuthKey: randBytes(32)}
	if _, err := s.Register(ctx(t), reg, t0); err != nil {
		t.Fatal(err)
	}
	cs, err := s.ListCodes(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].Hash != codeHash("a") || cs[1].Hash != codeHash("b") ||
		cs[0].Period != codes[1].Period || !cs[0].Expires.Equal(codes[1].Expires) || !cs[1].Expires.Equal(codes[0].Expires) {
		t.Fatalf("ListCodes = %+v, want the two unredeemed codes by expiry", cs)
	}
	// The creation day is kept without its hour; unknown stays unknown.
	if day := t0.Truncate(store.Day); !cs[0].Created.Equal(day) || !cs[1].Created.IsZero() {
		t.Fatalf("created days = %v, %v; want %v and unknown (zero)", cs[0].Created, cs[1].Created, day)
	}
	if err := s.RevokeCode(ctx(t), codeHash("a")); err != nil {
		t.Fatalf("RevokeCode: %v", err)
	}
	if err := s.RevokeCode(ctx(t), codeHash("a")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoking a revoked code: %v, want ErrNotFound", err)
	}
	reg = store.Registration{CodeHash: codeHash("a"), ID: "acct2", IdentityKey: randBytes(33), AuthKey: randBytes(32)}
	if _, err := s.Register(ctx(t), reg, t0); !errors.Is(err, store.ErrCodeUnknown) {
		t.Fatalf("a revoked code registered: %v", err)
	}
	if cs, _ := s.ListCodes(ctx(t)); len(cs) != 1 || cs[0].Hash != codeHash("b") {
		t.Fatalf("ListCodes after revoking = %+v", cs)
	}
}
