package server_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/wire"
)

// certified is an env whose server has a sealed-sender certificate.
func certified(t *testing.T, cfg server.Config) (*env, *sealed.TrustRoot) {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = servertest.Start(t, server.Config{}).Store
	}
	root := servertest.Certify(t, cfg.Store)
	return newEnv(t, cfg), root
}

func (e *env) anonymous() *servertest.Client {
	e.t.Helper()
	c, err := servertest.DialAnonymous(ctxT(e.t), e.srv.URL)
	if err != nil {
		e.t.Fatalf("dial anonymous: %v", err)
	}
	e.t.Cleanup(func() { c.CloseNow() })
	return c
}

func setToken(t *testing.T, c *servertest.Client, d *servertest.Device) []byte {
	t.Helper()
	token := bytes.Repeat([]byte{d.Account[0]}, wire.DeliveryTokenBytes)
	_, err := c.Call(ctxT(t), &wire.Request{Op: &wire.Request_SetDeliveryVerifier{SetDeliveryVerifier: &wire.SetDeliveryVerifier{
		Verifier: wire.DeliveryVerifier(d.Account, token)}}})
	if err != nil {
		t.Fatalf("SetDeliveryVerifier: %v", err)
	}
	return token
}

func sealedBody(n int, fill byte) []byte { return bytes.Repeat([]byte{fill}, n) }

// TestSenderCertificate: an authenticated device gets a certificate that
// chains to the operator's trust root, names it, and expires after the
// configured lifetime; the Welcome carries the server certificate.
func TestSenderCertificate(t *testing.T) {
	e, root := certified(t, server.Config{SenderCertLifetime: 6 * time.Hour})
	c, d := e.register()
	if err := sealedCert(c.Welcome.GetServerCertificate(), root.Public()); err != nil {
		t.Fatalf("Welcome's server certificate: %v", err)
	}
	r, err := c.Call(ctxT(t), &wire.Request{Op: &wire.Request_GetSenderCertificate{GetSenderCertificate: &wire.GetSenderCertificate{}}})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := sealed.ParseSenderCertificate(r.GetSenderCertificate().GetCertificate())
	if err != nil {
		t.Fatal(err)
	}
	acct, err := e.srv.Store.Account(ctxT(t), d.Account)
	if err != nil {
		t.Fatal(err)
	}
	if cert.UUID() != d.Account || cert.DeviceID() != d.ID || !bytes.Equal(cert.IdentityKey().Bytes(), acct.IdentityKey) {
		t.Fatalf("certificate names %s.%d", cert.UUID(), cert.DeviceID())
	}
	if want := e.clock.Now().Add(6 * time.Hour); !cert.Expires().Equal(want) {
		t.Fatalf("expires %v, want %v", cert.Expires(), want)
	}
	if err := cert.Validate(e.clock.Now(), root.Public()); err != nil {
		t.Fatalf("does not validate under the root: %v", err)
	}
	if err := cert.Validate(e.clock.Now(), sealed.GenerateTrustRoot().Public()); err == nil {
		t.Fatal("validates under another root")
	}
	if err := cert.Validate(e.clock.Now().Add(6*time.Hour+time.Second), root.Public()); err == nil {
		t.Fatal("valid after its lifetime")
	}

	// Not for connections that did not authenticate, nor for an expired
	// subscription.
	_, err = e.dial().Call(ctxT(t), &wire.Request{Op: &wire.Request_GetSenderCertificate{GetSenderCertificate: &wire.GetSenderCertificate{}}})
	expectCode(t, err, wire.Code_UNAUTHENTICATED)
	e.clock.Advance(100 * 24 * time.Hour)
	_, err = e.connect(d).Call(ctxT(t), &wire.Request{Op: &wire.Request_GetSenderCertificate{GetSenderCertificate: &wire.GetSenderCertificate{}}})
	expectCode(t, err, wire.Code_SUBSCRIPTION_EXPIRED)
}

func sealedCert(b []byte, root curve.PublicKey) error {
	c, err := sealed.ParseServerCertificate(b)
	if err != nil {
		return err
	}
	return c.Validate(root)
}

// TestNoServerCertificate: a server the operator has not certified says so.
func TestNoServerCertificate(t *testing.T) {
	e := newEnv(t, server.Config{})
	c, _ := e.register()
	if len(c.Welcome.GetServerCertificate()) != 0 {
		t.Fatal("Welcome carries a certificate the server does not have")
	}
	_, err := c.Call(ctxT(t), &wire.Request{Op: &wire.Request_GetSenderCertificate{GetSenderCertificate: &wire.GetSenderCertificate{}}})
	expectCode(t, err, wire.Code_UNSUPPORTED)
	if _, err := server.TrustRoot(ctxT(t), e.srv.Store); !errors.Is(err, server.ErrNoServerCertificate) {
		t.Fatalf("TrustRoot = %v", err)
	}
	// Certifying a running server takes effect at its next sweep.
	root := servertest.Certify(t, e.srv.Store)
	if err := e.srv.Sweep(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(ctxT(t), &wire.Request{Op: &wire.Request_GetSenderCertificate{GetSenderCertificate: &wire.GetSenderCertificate{}}}); err != nil {
		t.Fatalf("after certifying: %v", err)
	}
	if got, err := server.TrustRoot(ctxT(t), e.srv.Store); err != nil || got != root.Public() {
		t.Fatalf("TrustRoot = %v, %v", got, err)
	}
	// A new key for the same root gets the next ID.
	cert, err := server.Certify(ctxT(t), e.srv.Store, root, 0)
	if err != nil || cert.KeyID() != 2 {
		t.Fatalf("second key: ID %d, %v", cert.KeyID(), err)
	}
}

// TestSealedWithToken: on an anonymous connection a sealed message with the
// recipient's delivery token is stored and pushed without any sender; a
// wrong token and an unknown account get the same refusal.
func TestSealedWithToken(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backend) {
		e, _ := certified(t, server.Config{Store: open(t)})
		bob, b := e.register()
		token := setToken(t, bob, b)
		anon := e.anonymous()
		if len(anon.Welcome.GetChallenge()) != wire.ChallengeBytes {
			t.Fatal("anonymous Welcome has no challenge")
		}

		body := sealedBody(1024, 0xA5)
		if err := anon.SendSealed(ctxT(t), b.Account, b.ID, body, token); err != nil {
			t.Fatalf("sealed send: %v", err)
		}
		env := next(t, bob)
		if len(env.ProtoReflect().GetUnknown()) != 0 || !bytes.Equal(env.GetContent(), body) {
			t.Fatalf("pushed unknown fields %x, %d bytes", env.ProtoReflect().GetUnknown(), len(env.GetContent()))
		}
		msgs, err := e.srv.Store.Pending(ctxT(t), store.Address{Account: b.Account, Device: b.ID}, 0, time.Unix(0, 0), 10)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("stored %+v, %v", msgs, err)
		}

		wrong := bytes.Clone(token)
		wrong[5] ^= 1
		err = anon.SendSealed(ctxT(t), b.Account, b.ID, body, wrong)
		we1 := expectCode(t, err, wire.Code_TOKEN_REJECTED)
		err = anon.SendSealed(ctxT(t), "2345678923", 1, body, token)
		we2 := expectCode(t, err, wire.Code_TOKEN_REJECTED)
		if we1.GetMessage() != we2.GetMessage() {
			t.Fatal("a wrong token and an unknown account are told apart")
		}
		err = anon.SendSealed(ctxT(t), b.Account, 9, body, token)
		expectCode(t, err, wire.Code_NOT_FOUND)
		for _, n := range []int{1, 1023, 1025, 4095} {
			err = anon.SendSealed(ctxT(t), b.Account, b.ID, sealedBody(n, 1), token)
			expectCode(t, err, wire.Code_BAD_REQUEST)
		}
		// An anonymous connection does nothing else: no token, no
		// authentication, no other request.
		err = anon.SendSealed(ctxT(t), b.Account, b.ID, body, []byte{})
		expectCode(t, err, wire.Code_BAD_REQUEST)
		_, err = anon.Call(ctxT(t), anon.AuthRequest(b))
		expectCode(t, err, wire.Code_BAD_REQUEST)
		_, err = anon.Call(ctxT(t), &wire.Request{Op: &wire.Request_FetchBundles{FetchBundles: &wire.FetchBundles{Account: b.Account}}})
		expectCode(t, err, wire.Code_BAD_REQUEST)

		// Removing the verifier closes the door.
		if _, err := bob.Call(ctxT(t), &wire.Request{Op: &wire.Request_SetDeliveryVerifier{SetDeliveryVerifier: &wire.SetDeliveryVerifier{}}}); err != nil {
			t.Fatal(err)
		}
		err = anon.SendSealed(ctxT(t), b.Account, b.ID, body, token)
		expectCode(t, err, wire.Code_TOKEN_REJECTED)
		_, err = bob.Call(ctxT(t), &wire.Request{Op: &wire.Request_SetDeliveryVerifier{SetDeliveryVerifier: &wire.SetDeliveryVerifier{Verifier: []byte("short")}}})
		expectCode(t, err, wire.Code_BAD_REQUEST)
	})
}

// TestAnonymousOutlivesHandshakeTimeout: an anonymous connection is not
// closed for not authenticating, but it lasts at most AnonymousLifetime.
func TestAnonymousOutlivesHandshakeTimeout(t *testing.T) {
	e, _ := certified(t, server.Config{HandshakeTimeout: 100 * time.Millisecond, AnonymousLifetime: time.Second})
	bob, b := e.register()
	token := setToken(t, bob, b)
	anon := e.anonymous()
	plain := e.dial()
	select {
	case <-plain.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("an unauthenticated connection outlived the handshake timeout")
	}
	time.Sleep(200 * time.Millisecond)
	if err := anon.SendSealed(ctxT(t), b.Account, b.ID, sealedBody(4096, 2), token); err != nil {
		t.Fatalf("anonymous connection after the handshake timeout: %v", err)
	}
	select {
	case <-anon.Done():
		if f := anon.Fatal(); f.GetCode() != wire.Code_UNAVAILABLE {
			t.Fatalf("closed with %v", f)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("an anonymous connection outlived its lifetime")
	}
}

// TestSealedRequest: a first contact goes sealed on the sender's
// authenticated connection, is stored without a sender, and is limited per
// sender account.
func TestSealedRequest(t *testing.T) {
	e, _ := certified(t, server.Config{RequestRate: server.Rate{Per: 1.0 / 3600, Burst: 3}})
	alice, a := e.register()
	bob, b := e.register()
	for i := range 3 {
		if err := alice.SendSealed(ctxT(t), b.Account, b.ID, sealedBody(1024, byte(i)), nil); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if env := next(t, bob); len(env.ProtoReflect().GetUnknown()) != 0 || env.GetContent()[0] != byte(i) {
			t.Fatalf("request %d pushed with unknown fields %x", i, env.ProtoReflect().GetUnknown())
		}
	}
	err := alice.SendSealed(ctxT(t), b.Account, b.ID, sealedBody(1024, 9), nil)
	if we := expectCode(t, err, wire.Code_RATE_LIMITED); we.GetRetryAfterMs() == 0 {
		t.Fatal("no retry time")
	}
	// Sends naming their sender are no way around it: there are none.
	_, err = alice.Call(ctxT(t), &wire.Request{Op: &wire.Request_Send{Send: &wire.Send{Account: b.Account, Device: 1, Content: sealedBody(1024, 8)}}})
	expectCode(t, err, wire.Code_UNSUPPORTED)
	// Sizes are checked here too, and tokens are refused on an
	// authenticated connection.
	err = bob.SendSealed(ctxT(t), a.Account, a.ID, sealedBody(1000, 1), nil)
	expectCode(t, err, wire.Code_BAD_REQUEST)
	err = bob.SendSealed(ctxT(t), a.Account, a.ID, sealedBody(1024, 1), make([]byte, 32))
	expectCode(t, err, wire.Code_BAD_REQUEST)
}

// TestSealedRateLimits: one anonymous connection, and one recipient, take
// only so many sealed messages.
func TestSealedRateLimits(t *testing.T) {
	e, _ := certified(t, server.Config{
		SealedRate:    server.Rate{Per: 1.0 / 3600, Burst: 2},
		RecipientRate: server.Rate{Per: 1.0 / 3600, Burst: 3},
	})
	bob, b := e.register()
	token := setToken(t, bob, b)
	c1 := e.anonymous()
	for range 2 {
		if err := c1.SendSealed(ctxT(t), b.Account, b.ID, sealedBody(1024, 1), token); err != nil {
			t.Fatal(err)
		}
	}
	err := c1.SendSealed(ctxT(t), b.Account, b.ID, sealedBody(1024, 1), token)
	expectCode(t, err, wire.Code_RATE_LIMITED)
	// A second connection has its own bucket, but the recipient's is
	// nearly spent.
	c2 := e.anonymous()
	if err := c2.SendSealed(ctxT(t), b.Account, b.ID, sealedBody(1024, 1), token); err != nil {
		t.Fatal(err)
	}
	err = c2.SendSealed(ctxT(t), b.Account, b.ID, sealedBody(1024, 1), token)
	expectCode(t, err, wire.Code_RATE_LIMITED)
}

// TestCoarseTime: receive times are kept and shown rounded down to the
// hour, and an undelivered message expires TTL after its rounded time:
// never later than TTL after it arrived, at most an hour earlier.
func TestCoarseTime(t *testing.T) {
	e := newEnv(t, server.Config{}) // t0 is 03:04:05
	alice, a := e.register()
	bob, b := e.register()
	mustSend(t, alice, b, "hello")
	env := expectNext(t, bob, a, "hello")
	hour := t0.Truncate(time.Hour)
	if env.GetServerTime() != hour.Unix() {
		t.Fatalf("server_time %v, want %v", time.Unix(env.GetServerTime(), 0).UTC(), hour)
	}
	msgs, err := e.srv.Store.Pending(ctxT(t), store.Address{Account: b.Account, Device: b.ID}, 0, time.Unix(0, 0), 10)
	if err != nil || len(msgs) != 1 || !msgs[0].Received.Equal(hour) {
		t.Fatalf("stored %+v, %v", msgs, err)
	}
	bob.Close()
	// One second before hour+TTL it is still served; at hour+TTL it is not.
	e.clock.Advance(hour.Add(server.DefaultMessageTTL).Sub(t0) - time.Second)
	bob = e.connect(b)
	expectNext(t, bob, a, "hello")
	bob.Close()
	e.clock.Advance(time.Second)
	bob = e.connect(b)
	mustSend(t, alice, b, "later")
	expectNext(t, bob, a, "later")
}

func TestScrubAddresses(t *testing.T) {
	for in, want := range map[string]string{
		"http: TLS handshake error from 203.0.113.7:50123: EOF":   "http: TLS handshake error from [address]: EOF",
		"http: panic serving [2001:db8::1]:443: boom":             "http: panic serving [address]: boom",
		"accept from 10.0.0.1, then fe80::1%eth0 and ::1.":        "accept from [address], then [address] and [address].",
		"nothing here: 12 items at 3:04, version 1.2.3 (ok)":      "nothing here: 12 items at 3:04, version 1.2.3 (ok)",
		"http: Accept error: accept tcp 127.0.0.1:7443: too many": "http: Accept error: accept tcp [address]: too many",
		// net's errors pair the local and the remote address.
		"http: TLS handshake error from 203.0.113.7:50123: read tcp 10.0.0.1:443->203.0.113.7:50123: read: connection reset by peer": "http: TLS handshake error from [address]: read tcp [address]->[address]: read: connection reset by peer",
		"write tcp [2001:db8::1]:443->[2001:db8::7]:50123: broken pipe":                                                              "write tcp [address]->[address]: broken pipe",
		"addr=203.0.113.7 peer=\"2001:db8::7\" (fe80::1%eth0.100) 2001:db8:: ::ffff:198.51.100.1":                                    "addr=[address] peer=\"[address]\" ([address]) [address] [address]",
		"ids deadbeef cafe:12 xcafe::1 1.2.3.4.5 " + strings.Repeat("1:", 100):                                                       "ids deadbeef cafe:12 xcafe::1 1.2.3.4.5 " + strings.Repeat("1:", 100),
	} {
		if got := server.ScrubAddresses(in); got != want {
			t.Errorf("ScrubAddresses(%q)\n = %q\nwant %q", in, got, want)
		}
	}
}

// TestQueueShares: no one sender fills a recipient's queue. A server
// refuses identified sends (they were removed); one anonymous
// connection queues at most a tenth of a queue for one recipient; sealed
// requests from all senders together are limited per recipient. (Before,
// one account queued 10,000 identified messages for an offline victim.)
func TestQueueShares(t *testing.T) {
	t.Run("identified sends removed", func(t *testing.T) {
		srv := servertest.Start(t, server.Config{})
		a, err := servertest.Dial(ctxT(t), srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer a.CloseNow()
		if _, err := a.Register(ctxT(t), srv.Code(t, time.Now())); err != nil {
			t.Fatal(err)
		}
		b, err := servertest.Dial(ctxT(t), srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer b.CloseNow()
		bd, err := b.Register(ctxT(t), srv.Code(t, time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.Call(ctxT(t), &wire.Request{Op: &wire.Request_Send{Send: &wire.Send{Account: bd.Account, Device: 1, Content: []byte("named")}}})
		expectCode(t, err, wire.Code_UNSUPPORTED)
	})
	t.Run("one anonymous connection", func(t *testing.T) {
		lots := server.Rate{Per: 1e6, Burst: 1e6}
		e, _ := certified(t, server.Config{QueueCap: 50, SealedRate: lots, RecipientRate: lots})
		bob, b := e.register()
		token := setToken(t, bob, b)
		bob.Close()
		anon := e.anonymous()
		body := sealedBody(wire.SealedSizes[0], 1)
		for i := range 5 {
			if err := anon.SendSealed(ctxT(t), b.Account, 1, body, token); err != nil {
				t.Fatalf("sealed send %d: %v", i, err)
			}
		}
		expectCode(t, anon.SendSealed(ctxT(t), b.Account, 1, body, token), wire.Code_RATE_LIMITED)
		// Another connection has its own share.
		if err := e.anonymous().SendSealed(ctxT(t), b.Account, 1, body, token); err != nil {
			t.Fatalf("a second connection: %v", err)
		}
	})
	t.Run("one anonymous connection, multi-recipient", func(t *testing.T) {
		lots := server.Rate{Per: 1e6, Burst: 1e6}
		e, _ := certified(t, server.Config{QueueCap: 20, SealedRate: lots, RecipientRate: lots})
		w := newMultiWorld(t)
		c, d := e.register()
		rs := []multiRecipient{{c: c, d: d, key: identity.Generate(), token: setToken(t, c, d)}}
		msg := w.message(t, 1024, rs, [][]uint32{{1}})
		anon := e.anonymous()
		for i := range 2 {
			if sent, err := multiSend(t, anon, msg, rs[0].token); err != nil || len(sent.GetRefused()) != 0 {
				t.Fatalf("multi-send %d: %v, %v", i, sent, err)
			}
		}
		if sent, err := multiSend(t, anon, msg, rs[0].token); err != nil || len(sent.GetRefused()) != 1 {
			t.Fatalf("a third multi-send past the connection's share: %v, %v", sent, err)
		}
	})
	t.Run("sealed requests per recipient", func(t *testing.T) {
		e, _ := certified(t, server.Config{QueueCap: 30, RequestInRate: server.Rate{Per: 1.0 / 60, Burst: 3}})
		_, b := e.register()
		body := sealedBody(wire.SealedSizes[0], 2)
		req := &wire.Request{Op: &wire.Request_Send{Send: &wire.Send{Account: b.Account, Device: 1, Content: body, Sealed: true}}}
		for i := range 3 {
			c, _ := e.register()
			if _, err := c.Call(ctxT(t), req); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		c, _ := e.register()
		_, err := c.Call(ctxT(t), req)
		expectCode(t, err, wire.Code_RATE_LIMITED)
	})
}

// TestWrongTokensPerAddress: wrong delivery tokens, each a store look-up,
// are charged to the source address across anonymous connections; once
// its budget is spent the address is told to wait before any token is
// looked up.
func TestWrongTokensPerAddress(t *testing.T) {
	lots := server.Rate{Per: 1e6, Burst: 1e6}
	e, _ := certified(t, server.Config{TokenFailRate: server.Rate{Per: 0.001, Burst: 3}, SealedRate: lots})
	bob, b := e.register()
	token := setToken(t, bob, b)
	wrong := bytes.Repeat([]byte{9}, wire.DeliveryTokenBytes)
	body := sealedBody(wire.SealedSizes[0], 1)
	for range 3 {
		expectCode(t, e.anonymous().SendSealed(ctxT(t), b.Account, 1, body, wrong), wire.Code_TOKEN_REJECTED)
	}
	expectCode(t, e.anonymous().SendSealed(ctxT(t), b.Account, 1, body, token), wire.Code_RATE_LIMITED)
}
