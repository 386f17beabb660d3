package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/wire"
)

func asWire(err error, we **wire.Error) bool { return errors.As(err, we) }

func TestRegistration(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backend) {
		e := newEnv(t, server.Config{Store: open(t)})
		code := e.srv.Code(t, e.clock.Now())
		c := e.dial()
		d, err := c.Register(ctxT(t), code)
		if err != nil {
			t.Fatalf("register with a good code: %v", err)
		}
		if !server.ValidAccountID(d.Account) || d.ID != 1 {
			t.Fatalf("registered %q device %d", d.Account, d.ID)
		}
		info, err := c.Call(ctxT(t), &wire.Request{Op: &wire.Request_GetAccount{GetAccount: &wire.GetAccount{}}})
		if err != nil || !info.GetAccount().GetCanSend() || info.GetAccount().GetSubscriptionEnd() != store.CeilDay(e.clock.Now().Add(90*24*time.Hour)).Unix() {
			t.Fatalf("account info = %v, %v", info, err)
		}
		// The same code again: refused.
		_, err = e.dial().Register(ctxT(t), code)
		expectCode(t, err, wire.Code_CODE_INVALID)
		// A code never issued: refused the same way.
		_, err = e.dial().Register(ctxT(t), "aaaaa-bbbbb-ccccc-ddddd")
		expectCode(t, err, wire.Code_CODE_INVALID)
		// An expired code.
		expired := e.srv.Code(t, e.clock.Now())
		e.clock.Advance(8 * 24 * time.Hour)
		_, err = e.dial().Register(ctxT(t), expired)
		expectCode(t, err, wire.Code_CODE_EXPIRED)
		// Codes are accepted however the person typed them.
		typed := e.srv.Code(t, e.clock.Now())
		if _, err := e.dial().Register(ctxT(t), " "+string(bytes.ToUpper([]byte(typed)))+" "); err != nil {
			t.Fatalf("upper-case code with spaces: %v", err)
		}
	})
}

func TestStoreAndForward(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backend) {
		e := newEnv(t, server.Config{Store: open(t)})
		alice, a := e.register()
		bob, b := e.register()
		uploadKeys(t, bob, 2)
		// Alice takes Bob's bundle.
		r, err := alice.Call(ctxT(t), &wire.Request{Op: &wire.Request_FetchBundles{FetchBundles: &wire.FetchBundles{Account: b.Account, Device: 1}}})
		if err != nil || len(r.GetBundles().GetBundles()) != 1 || r.GetBundles().GetBundles()[0].GetOneTimeEc().GetId() != 1 {
			t.Fatalf("fetch bundles: %v, %v", r, err)
		}
		// Bob goes offline; Alice sends three messages.
		bob.Close()
		for i := range 3 {
			mustSend(t, alice, b, fmt.Sprint("offline ", i))
		}
		// Bob connects and receives them in order.
		bob = e.connect(b)
		var ids [][]byte
		for i := range 3 {
			ids = append(ids, expectNext(t, bob, a, fmt.Sprint("offline ", i)).GetId())
		}
		// Live delivery while connected.
		mustSend(t, alice, b, "live")
		ids = append(ids, expectNext(t, bob, a, "live").GetId())
		if err := bob.Ack(ctxT(t), ids...); err != nil {
			t.Fatalf("ack: %v", err)
		}
		// After reconnecting nothing is seen twice: the first push is new.
		bob.Close()
		bob = e.connect(b)
		mustSend(t, alice, b, "marker")
		expectNext(t, bob, a, "marker")
		if n := pendingCount(t, e.srv.Store, b); n != 1 {
			t.Fatalf("store holds %d messages for bob, want 1 (the unacknowledged marker)", n)
		}
	})
}

func pendingCount(t *testing.T, st store.Store, d *servertest.Device) int {
	t.Helper()
	msgs, err := st.Pending(context.Background(), store.Address{Account: d.Account, Device: d.ID}, 0, time.Unix(0, 0), 100000)
	if err != nil {
		t.Fatal(err)
	}
	return len(msgs)
}

func uploadKeys(t *testing.T, c *servertest.Client, n int) {
	t.Helper()
	u := &wire.UploadPreKeys{
		SignedEc:        &wire.PreKey{Id: 1, Key: bytes.Repeat([]byte{5}, 33), Signature: make([]byte, 64)},
		LastResortKyber: &wire.PreKey{Id: 1000, Key: bytes.Repeat([]byte{8}, 1569), Signature: make([]byte, 64)},
	}
	for i := 1; i <= n; i++ {
		u.OneTimeEc = append(u.OneTimeEc, &wire.PreKey{Id: uint32(i), Key: bytes.Repeat([]byte{5}, 33)})
		u.OneTimeKyber = append(u.OneTimeKyber, &wire.PreKey{Id: uint32(i), Key: bytes.Repeat([]byte{8}, 1569), Signature: make([]byte, 64)})
	}
	r, err := c.Call(ctxT(t), &wire.Request{Op: &wire.Request_UploadPrekeys{UploadPrekeys: u}})
	if err != nil || r.GetPrekeyCounts().GetEc() != uint32(n) || r.GetPrekeyCounts().GetKyber() != uint32(n) {
		t.Fatalf("upload prekeys: %v, %v", r, err)
	}
}

func TestRedeliveryUntilAcked(t *testing.T) {
	e := newEnv(t, server.Config{})
	alice, a := e.register()
	bob, b := e.register()
	mustSend(t, alice, b, "one")
	first := expectNext(t, bob, a, "one")
	bob.Close()
	bob = e.connect(b)
	again := expectNext(t, bob, a, "one")
	if !bytes.Equal(first.GetId(), again.GetId()) || first.GetServerTime() != again.GetServerTime() {
		t.Fatalf("redelivered with a different ID or time: %x %x", first.GetId(), again.GetId())
	}
}

func TestPerSenderOrderUnderLoad(t *testing.T) {
	e := newEnv(t, server.Config{SendRate: server.Rate{Per: 1e6, Burst: 1e6}, ConnRate: server.Rate{Per: 1e6, Burst: 1e6}})
	_, b := e.register()
	const senders, each = 4, 200
	var wg sync.WaitGroup
	devs := make([]*servertest.Device, senders)
	clients := make([]*servertest.Client, senders)
	for i := range senders {
		clients[i], devs[i] = e.register()
	}
	bob := e.connect(b)
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var chans []<-chan *wire.Response
			for j := range each {
				ch, err := clients[i].Start(context.Background(), servertest.SendRequest(b.Account, 1, fmt.Appendf(nil, "%d %d", i, j)))
				if err != nil {
					t.Error(err)
					return
				}
				chans = append(chans, ch)
			}
			for _, ch := range chans {
				if r := <-ch; r.GetSent() == nil {
					t.Errorf("pipelined send failed: %v", r)
				}
			}
		}()
	}
	wg.Wait()
	nextBy := map[string]int{}
	for range senders * each {
		env := next(t, bob)
		// Sends are sealed: the sender is named inside, as "SENDER SEQ".
		from, seq, _ := strings.Cut(string(servertest.Open(env.GetContent())), " ")
		if want := fmt.Sprint(nextBy[from]); seq != want {
			t.Fatalf("from sender %s: got message %s, want %s (per-sender order broken)", from, seq, want)
		}
		nextBy[from]++
	}
}

func TestReplacedConnection(t *testing.T) {
	e := newEnv(t, server.Config{})
	first, d := e.register()
	second := e.connect(d)
	select {
	case <-first.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the older connection of a device stayed open")
	}
	if f := first.Fatal(); f.GetCode() != wire.Code_REPLACED {
		t.Fatalf("older connection got %v, want REPLACED", f)
	}
	if _, err := second.Call(ctxT(t), &wire.Request{Op: &wire.Request_GetAccount{GetAccount: &wire.GetAccount{}}}); err != nil {
		t.Fatalf("newer connection: %v", err)
	}
}

func TestConcurrentBundleFetches(t *testing.T) {
	e := newEnv(t, server.Config{})
	bob, b := e.register()
	uploadKeys(t, bob, 10)
	const fetchers = 16
	var (
		mu   sync.Mutex
		seen = map[uint32]int{}
		last int
		wg   sync.WaitGroup
	)
	for range fetchers {
		c, _ := e.register()
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.Call(context.Background(), &wire.Request{Op: &wire.Request_FetchBundles{FetchBundles: &wire.FetchBundles{Account: b.Account}}})
			if err != nil {
				t.Error(err)
				return
			}
			bu := r.GetBundles().GetBundles()[0]
			mu.Lock()
			defer mu.Unlock()
			if bu.GetKyberLastResort() {
				last++
			} else {
				seen[bu.GetKyber().GetId()]++
			}
		}()
	}
	wg.Wait()
	for id, n := range seen {
		if n != 1 {
			t.Errorf("one-time Kyber prekey %d handed out %d times", id, n)
		}
	}
	if len(seen) != 10 || last != fetchers-10 {
		t.Fatalf("%d distinct one-time keys and %d last-resort, want 10 and %d", len(seen), last, fetchers-10)
	}
}

func TestSubscriptionExpiryAndRevocation(t *testing.T) {
	e := newEnv(t, server.Config{})
	alice, a := e.register()
	bob, b := e.register()
	// Past the 90-day subscription Alice cannot send, and is told why…
	e.clock.Advance(91 * 24 * time.Hour)
	expectCode(t, alice.Send(ctxT(t), b.Account, 1, []byte("x")), wire.Code_SUBSCRIPTION_EXPIRED)
	// …but still receives and acknowledges.
	bob.Close()
	bob = e.connect(b)
	if _, err := e.srv.Store.Extend(context.Background(), b.Account, 365*24*time.Hour, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute) // past the account re-check interval
	mustSend(t, bob, a, "to the expired account")
	got := expectNext(t, alice, b, "to the expired account")
	if err := alice.Ack(ctxT(t), got.GetId()); err != nil {
		t.Fatalf("expired account acknowledging: %v", err)
	}
	// Extended, Alice sends again; revoked, she cannot.
	e.srv.Store.Extend(context.Background(), a.Account, 30*24*time.Hour, e.clock.Now())
	e.clock.Advance(time.Minute)
	mustSend(t, alice, b, "back")
	e.srv.Store.Revoke(context.Background(), a.Account)
	e.clock.Advance(time.Minute)
	expectCode(t, alice.Send(ctxT(t), b.Account, 1, []byte("x")), wire.Code_ACCOUNT_REVOKED)
}

func TestDeleteAccount(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backend) {
		e := newEnv(t, server.Config{Store: open(t)})
		alice, _ := e.register()
		bob, b := e.register()
		uploadKeys(t, bob, 3)
		bob.Close()
		mustSend(t, alice, b, "queued")
		bob = e.connect(b)
		if _, err := bob.Call(ctxT(t), &wire.Request{Op: &wire.Request_DeleteAccount{DeleteAccount: &wire.DeleteAccount{}}}); err != nil {
			t.Fatalf("delete: %v", err)
		}
		select {
		case <-bob.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("connection stayed open after deleting the account")
		}
		if n := pendingCount(t, e.srv.Store, b); n != 0 {
			t.Fatalf("%d messages left after deleting the account", n)
		}
		if _, err := e.srv.Store.Account(context.Background(), b.Account); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("account still stored: %v", err)
		}
		expectCode(t, alice.Send(ctxT(t), b.Account, 1, []byte("x")), wire.Code_NOT_FOUND)
		_, err := alice.Call(ctxT(t), &wire.Request{Op: &wire.Request_FetchBundles{FetchBundles: &wire.FetchBundles{Account: b.Account}}})
		expectCode(t, err, wire.Code_NOT_FOUND)
		_, err = e.dial().Authenticate(ctxT(t), b)
		expectCode(t, err, wire.Code_AUTH_FAILED)
	})
}
