package server_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/protocol/serviceid"
	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/wire"
)

// multiWorld is a sender certificate for v2 messages made in the tests; the
// server never checks it (it cannot open the content), the recipients do.
type multiWorld struct {
	sender identity.KeyPair
	cert   *sealed.SenderCertificate
}

func newMultiWorld(t *testing.T) *multiWorld {
	t.Helper()
	root := sealed.GenerateTrustRoot()
	srvKey := identity.Generate()
	sc, err := root.Certify(1, srvKey.Public)
	if err != nil {
		t.Fatal(err)
	}
	is, err := sealed.NewIssuer(sc, srvKey.Private)
	if err != nil {
		t.Fatal(err)
	}
	w := &multiWorld{sender: identity.Generate()}
	if w.cert, err = is.Issue(sealed.Sender{UUID: "2345678923", DeviceID: 1, IdentityKey: w.sender.Public}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	return w
}

// multiRecipient is one registered recipient with the identity key it opens
// v2 copies with.
type multiRecipient struct {
	c     *servertest.Client
	d     *servertest.Device
	key   identity.KeyPair
	token []byte
}

// message makes a v2 SentMessage for rs (devices as given), each copy size
// bytes long, with excluded accounts.
func (w *multiWorld) message(t *testing.T, size int, rs []multiRecipient, devices [][]uint32, excluded ...string) []byte {
	t.Helper()
	to := make([]sealed.MultiRecipient, len(rs))
	for i, r := range rs {
		to[i] = sealed.MultiRecipient{ServiceID: wire.AccountServiceID(r.d.Account), IdentityKey: r.key.Public}
		for _, d := range devices[i] {
			to[i].Devices = append(to[i].Devices, sealed.Device{ID: d, RegistrationID: 7})
		}
	}
	var ex []serviceid.ID
	for _, a := range excluded {
		ex = append(ex, wire.AccountServiceID(a))
	}
	c := &sealed.Content{Type: sealed.TypeSenderKey, Sender: w.cert, Message: []byte("group ciphertext"), PadTo: size - sealed.V2ReceivedOverhead}
	b, err := sealed.EncryptMulti(c, w.sender, to, ex)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func multiSend(t *testing.T, c *servertest.Client, msg []byte, tokens ...[]byte) (*wire.MultiSent, error) {
	r, err := c.Call(ctxT(t), &wire.Request{Op: &wire.Request_MultiSend{MultiSend: &wire.MultiSend{Message: msg, DeliveryTokens: tokens}}})
	return r.GetMultiSent(), err
}

// TestMultiSend: one MultiSend on an anonymous connection queues, for every
// recipient whose token is right, one copy per named device, stored and
// pushed without a sender; each recipient's copy opens with its own key
// only; recipients whose token is wrong, or devices that do not exist, are
// listed as refused while the others are queued.
func TestMultiSend(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open backend) {
		e, _ := certified(t, server.Config{Store: open(t)})
		w := newMultiWorld(t)
		rs := make([]multiRecipient, 3)
		for i := range rs {
			c, d := e.register()
			rs[i] = multiRecipient{c: c, d: d, key: identity.Generate(), token: setToken(t, c, d)}
		}
		_, outsider := e.register()
		anon := e.anonymous()
		msg := w.message(t, 1024, rs, [][]uint32{{1}, {1}, {1}}, outsider.Account)
		sent, err := multiSend(t, anon, msg, rs[0].token, rs[1].token, rs[2].token)
		if err != nil || len(sent.GetRefused()) != 0 {
			t.Fatalf("multi_send: %v, refused %v", err, sent.GetRefused())
		}
		parsed, err := sealed.ParseSentMessage(msg, 10)
		if err != nil {
			t.Fatal(err)
		}
		var copies [][]byte
		for i, r := range rs {
			env := next(t, r.c)
			want := parsed.Received(&parsed.Recipients[i])
			if len(env.ProtoReflect().GetUnknown()) != 0 || !bytes.Equal(env.GetContent(), want) || len(want) != 1024 {
				t.Fatalf("recipient %d got %d bytes with unknown fields %x; want its own %d-byte copy", i, len(env.GetContent()), env.ProtoReflect().GetUnknown(), len(want))
			}
			c, err := sealed.Open(env.GetContent(), r.key)
			if err != nil || !bytes.Equal(c.Message, []byte("group ciphertext")) {
				t.Fatalf("recipient %d cannot open its copy: %v", i, err)
			}
			copies = append(copies, env.GetContent())
			stored, err := e.srv.Store.Pending(ctxT(t), store.Address{Account: r.d.Account, Device: 1}, 0, time.Unix(0, 0), 10)
			if err != nil || len(stored) != 1 {
				t.Fatalf("recipient %d: stored %d messages (%v)", i, len(stored), err)
			}
		}
		for i, r := range rs { // nobody opens another's copy
			if _, err := sealed.Open(copies[(i+1)%3], r.key); !errors.Is(err, protocol.ErrInvalidMessage) {
				t.Fatalf("recipient %d opened another recipient's copy: %v", i, err)
			}
		}
		if n, _ := e.srv.Store.Pending(ctxT(t), store.Address{Account: outsider.Account, Device: 1}, 0, time.Unix(0, 0), 10); len(n) != 0 {
			t.Fatal("the excluded account got a copy")
		}

		// A wrong token and a missing device are refused; the rest is queued.
		wrong := bytes.Clone(rs[1].token)
		wrong[0] ^= 1
		msg = w.message(t, 4096, rs, [][]uint32{{1, 9}, {1}, {1}})
		sent, err = multiSend(t, anon, msg, rs[0].token, wrong, rs[2].token)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]wire.Code{}
		for _, r := range sent.GetRefused() {
			got[r.GetAccount()+"/"+string(rune('0'+r.GetDevice()))] = r.GetError().GetCode()
		}
		want := map[string]wire.Code{rs[1].d.Account + "/0": wire.Code_TOKEN_REJECTED, rs[0].d.Account + "/9": wire.Code_NOT_FOUND}
		if len(got) != len(want) || got[rs[1].d.Account+"/0"] != want[rs[1].d.Account+"/0"] || got[rs[0].d.Account+"/9"] != want[rs[0].d.Account+"/9"] {
			t.Fatalf("refused %v, want %v", got, want)
		}
		for _, i := range []int{0, 2} {
			if env := next(t, rs[i].c); len(env.GetContent()) != 4096 {
				t.Fatalf("recipient %d: %d bytes", i, len(env.GetContent()))
			}
		}
		if n, _ := e.srv.Store.Pending(ctxT(t), store.Address{Account: rs[1].d.Account, Device: 1}, 0, time.Unix(0, 0), 10); len(n) != 1 {
			t.Fatalf("the recipient with a wrong token has %d messages queued, want only the first", len(n))
		}
	})
}

// TestMultiSendRefused: malformed or oversized requests are refused whole,
// and nothing is queued.
func TestMultiSendRefused(t *testing.T) {
	e, _ := certified(t, server.Config{})
	w := newMultiWorld(t)
	c, d := e.register()
	r := multiRecipient{c: c, d: d, key: identity.Generate(), token: setToken(t, c, d)}
	anon := e.anonymous()
	good := w.message(t, 1024, []multiRecipient{r}, [][]uint32{{1}})
	uuidForm := append([]byte{sealed.V2ReceivedVersion}, good[1:]...) // not the 0x23 form
	for _, tc := range []struct {
		name   string
		c      *servertest.Client
		msg    []byte
		tokens [][]byte
		code   wire.Code
	}{
		{"on an authenticated connection", c, good, [][]byte{r.token}, wire.Code_BAD_REQUEST},
		{"copies not a sealed size", anon, w.message(t, 1000, []multiRecipient{r}, [][]uint32{{1}}), [][]byte{r.token}, wire.Code_BAD_REQUEST},
		{"no token", anon, good, nil, wire.Code_BAD_REQUEST},
		{"two tokens for one account", anon, good, [][]byte{r.token, r.token}, wire.Code_BAD_REQUEST},
		{"short token", anon, good, [][]byte{r.token[:5]}, wire.Code_BAD_REQUEST},
		{"garbage", anon, []byte{0x23, 5, 1, 2, 3}, [][]byte{r.token}, wire.Code_BAD_REQUEST},
		{"version 0x22", anon, uuidForm, [][]byte{r.token}, wire.Code_BAD_REQUEST},
		{"too many recipients", anon, append([]byte{0x23, 0xE9, 0x07}, make([]byte, 40)...), nil, wire.Code_BAD_REQUEST},
	} {
		_, err := multiSend(t, tc.c, tc.msg, tc.tokens...)
		expectCode(t, err, tc.code)
	}
	if n, _ := e.srv.Store.Pending(ctxT(t), store.Address{Account: d.Account, Device: 1}, 0, time.Unix(0, 0), 10); len(n) != 0 {
		t.Fatalf("%d messages queued by refused requests", len(n))
	}
}
