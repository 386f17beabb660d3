package client

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/wire"
)

// keyState is everything about a client that no server message may change:
// its keys, what it pinned, and the settings of its conversations.
func keyState(t *testing.T, u *user, peer string) string {
	t.Helper()
	var sb strings.Builder
	kp, _ := u.c.core.Local.KeyPair.MarshalBinary()
	fmt.Fprintf(&sb, "identity %x reg %d root %s\n", kp, u.c.core.Local.RegistrationID, u.c.TrustRoot())
	fmt.Fprintf(&sb, "access %x\n", u.c.core.AccessKey())
	err := u.c.core.View(func(tx *store.Tx) error {
		acct, err := tx.Account()
		if err != nil {
			return err
		}
		fmt.Fprintf(&sb, "account %s %s %d %x\n", acct.ID, acct.Server, acct.DeviceID, []byte(acct.Credential))
		ps, err := core.LoadPreKeyState(tx)
		if err != nil {
			return err
		}
		for _, k := range []struct {
			kind store.PreKeyKind
			id   uint32
		}{{store.SignedPreKey, ps.SignedID}, {store.KyberPreKey, ps.LastResortID}} {
			rec, err := tx.PreKey(k.kind, k.id)
			if err != nil {
				return err
			}
			fmt.Fprintf(&sb, "prekey %d/%d %x\n", k.kind, k.id, []byte(rec))
		}
		pin, err := tx.PeerIdentity(store.Address{Name: peer, Device: 1})
		if err != nil {
			return err
		}
		fmt.Fprintf(&sb, "pinned %x verified %v\n", pin.Key, pin.Verified)
		conv, err := tx.Conversation(peer)
		if err != nil {
			return err
		}
		fmt.Fprintf(&sb, "timer %v\n", conv.Timer)
		if b, err := core.IsBlocked(tx, peer); err != nil || b {
			fmt.Fprintf(&sb, "blocked %v %v\n", b, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	def, _ := u.c.DefaultTimer()
	contacts, _ := u.c.Contacts()
	reqs, _ := u.c.Requests()
	fmt.Fprintf(&sb, "default timer %v contacts %d requests %d\n", def, len(contacts), len(reqs))
	return sb.String()
}

// secrets are bytes of a client's private keys that must never leave it.
func secrets(u *user) [][]byte {
	kp := u.c.core.Local.KeyPair
	priv := kp.Curve().Private.Bytes()
	return [][]byte{priv, u.c.core.Credential(), u.c.core.AccessKey()}
}

// frameHook is one hostile behaviour of the server in the table below.
type frameHook struct {
	// welcome rewrites the Welcome of every new connection.
	welcome func(*wire.Welcome)
	// response rewrites the victim's responses to requests of the named
	// kind ("send", "get_sender_certificate", …).
	response map[string]func(*wire.Response) *wire.Response
	// inject is sent to the victim once, as frames from the server.
	inject func(t *testing.T) []*wire.Frame
}

// TestEvilServerFrames is the table of every message the server sends a
// client — Welcome, the answer to each request, Push and Error — each with
// hostile payloads. After each, the victim's keys, pins, trust root, access
// key and conversation settings are unchanged; no frame it sent carried a
// private key, its credential or its access key; it never uploaded its
// signed prekeys again nor changed its delivery verifier; and once the
// server behaves, the conversation goes on.
func TestEvilServerFrames(t *testing.T) {
	s := startSkyd(t)
	ev := startEvil(t, s)
	alice := newUserAt(t, s, ev.url(), testOptions(nil))
	bob := newUserAt(t, s, ev.url(), testOptions(nil))
	a, b := alice.c.ID(), bob.c.ID()
	alice.send(b, "hello")
	texts(t, bob, 1)
	if err := bob.c.Accept(a); err != nil {
		t.Fatal(err)
	}
	bob.send(a, "hi")
	texts(t, alice, 1)
	if err := alice.c.SetTimer(b, time.Hour); err != nil {
		t.Fatal(err)
	}
	next(t, bob, func(e *TimerEvent) bool { return true })
	if err := alice.c.Verify(ctxT(t), b, mustSN(t, bob.c, a).Digits); err != nil {
		t.Fatal(err)
	}
	alice.flush()
	bob.flush()

	var mu sync.Mutex
	var hook frameHook
	ops := map[string]string{} // account/request ID -> request kind
	var sentByAlice [][]byte   // every frame Alice's connections sent while a hook was on
	var uploads, verifiers int
	aliceConns := map[string]bool{}
	ev.set(func(acct string, f *wire.Frame) []*wire.Frame {
		mu.Lock()
		defer mu.Unlock()
		if w := f.GetWelcome(); w != nil && hook.welcome != nil {
			hook.welcome(w)
		}
		if r := f.GetResponse(); r != nil && acct == a {
			kind := ops[fmt.Sprint(acct, "/", r.GetId())]
			if fn := hook.response[kind]; fn != nil {
				nr := fn(r)
				nr.Id = r.GetId()
				return []*wire.Frame{{Body: &wire.Frame_Response{Response: nr}}}
			}
		}
		return []*wire.Frame{f}
	}, func(acct string, f *wire.Frame) []*wire.Frame {
		mu.Lock()
		defer mu.Unlock()
		raw, _ := wire.Encode(f)
		if acct == a || aliceConns[acct] {
			sentByAlice = append(sentByAlice, raw)
		}
		if req := f.GetRequest(); req != nil && acct == a {
			kind := strings.TrimPrefix(fmt.Sprintf("%T", req.GetOp()), "*wire.Request_")
			ops[fmt.Sprint(acct, "/", req.GetId())] = kind
			if u := req.GetUploadPrekeys(); u != nil && (u.GetSignedEc() != nil || u.GetLastResortKyber() != nil) {
				uploads++
			}
			if req.GetSetDeliveryVerifier() != nil {
				verifiers++
			}
		}
		return []*wire.Frame{f}
	})
	set := func(h frameHook) { mu.Lock(); hook = h; mu.Unlock() }
	drop := func() {
		if c := ev.conn(a); c != nil {
			c.client.CloseNow()
		}
	}

	// What the server can forge: certificates under the operator's root
	// (it holds a certified key), and garbage.
	evilKey := curve.GenerateKeyPair()
	sc, _ := s.trust.Certify(79, evilKey.Public)
	issuer, _ := sealed.NewIssuer(sc, evilKey.Private)
	certFor := func(uuid string, key curve.PublicKey, expires time.Time) []byte {
		c, err := issuer.Issue(sealed.Sender{UUID: uuid, DeviceID: 1, IdentityKey: key}, expires)
		if err != nil {
			t.Fatal(err)
		}
		return c.Bytes()
	}
	otherRoot := sealed.GenerateTrustRoot()
	osc, _ := otherRoot.Certify(1, evilKey.Public)
	otherIssuer, _ := sealed.NewIssuer(osc, evilKey.Private)
	certAsResponse := func(cert []byte) func(*wire.Response) *wire.Response {
		return func(*wire.Response) *wire.Response {
			return &wire.Response{Result: &wire.Response_SenderCertificate{SenderCertificate: &wire.SenderCertificate{Certificate: cert}}}
		}
	}
	errResponse := func(code wire.Code) func(*wire.Response) *wire.Response {
		return func(*wire.Response) *wire.Response { return &wire.Response{Error: wire.NewError(code, "hostile")} }
	}
	pushOf := func(envs ...*wire.Envelope) func(*testing.T) []*wire.Frame {
		return func(*testing.T) []*wire.Frame { return []*wire.Frame{pushFrame(envs...)} }
	}
	errFrame := func(code wire.Code) func(*testing.T) []*wire.Frame {
		return func(*testing.T) []*wire.Frame {
			return []*wire.Frame{{Body: &wire.Frame_Error{Error: wire.NewError(code, "hostile")}}}
		}
	}
	junkCert := bytes.Repeat([]byte{0x0A, 0x01}, 40)
	otherCert, _ := otherIssuer.Issue(sealed.Sender{UUID: a, DeviceID: 1, IdentityKey: alice.c.core.Local.KeyPair.Public}, time.Now().Add(time.Hour))
	reconnects := map[string]bool{}

	for _, tc := range []struct {
		name string
		hook frameHook
	}{
		{"Welcome: a server certificate under another root", frameHook{welcome: func(w *wire.Welcome) { w.ServerCertificate = osc.Bytes() }}},
		{"Welcome: tiny limits and a clock in 2100", frameHook{welcome: func(w *wire.Welcome) {
			w.Limits = &wire.Limits{MaxMessageBytes: 1, MaxFrameBytes: 1, MessageTtlSeconds: 1}
			w.ServerTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
		}}},
		{"Authenticated: revoked, cannot send", frameHook{response: map[string]func(*wire.Response) *wire.Response{"Authenticate": func(r *wire.Response) *wire.Response {
			r.GetAuthenticated().GetAccount().Revoked, r.GetAuthenticated().GetAccount().CanSend = true, false
			return r
		}}}},
		{"SenderCertificate: under another root", frameHook{response: map[string]func(*wire.Response) *wire.Response{"GetSenderCertificate": certAsResponse(otherCert.Bytes())}}},
		{"SenderCertificate: for someone else", frameHook{response: map[string]func(*wire.Response) *wire.Response{"GetSenderCertificate": certAsResponse(certFor(b, alice.c.core.Local.KeyPair.Public, time.Now().Add(time.Hour)))}}},
		{"SenderCertificate: for another key", frameHook{response: map[string]func(*wire.Response) *wire.Response{"GetSenderCertificate": certAsResponse(certFor(a, newAttacker().ik.Public, time.Now().Add(time.Hour)))}}},
		{"SenderCertificate: expired", frameHook{response: map[string]func(*wire.Response) *wire.Response{"GetSenderCertificate": certAsResponse(certFor(a, alice.c.core.Local.KeyPair.Public, time.Now().Add(-time.Hour)))}}},
		{"SenderCertificate: garbage", frameHook{response: map[string]func(*wire.Response) *wire.Response{"GetSenderCertificate": certAsResponse(junkCert)}}},
		{"SenderCertificate: refused", frameHook{response: map[string]func(*wire.Response) *wire.Response{"GetSenderCertificate": errResponse(wire.Code_UNSUPPORTED)}}},
		{"DeliveryVerifierSet: refused", frameHook{response: map[string]func(*wire.Response) *wire.Response{"SetDeliveryVerifier": errResponse(wire.Code_INTERNAL)}}},
		{"PreKeyCounts: every key used", frameHook{response: map[string]func(*wire.Response) *wire.Response{"GetPrekeyCounts": func(*wire.Response) *wire.Response {
			return &wire.Response{Result: &wire.Response_PrekeyCounts{PrekeyCounts: &wire.PreKeyCounts{}}}
		}}}},
		{"PreKeyCounts: absurd counts", frameHook{response: map[string]func(*wire.Response) *wire.Response{"GetPrekeyCounts": func(*wire.Response) *wire.Response {
			return &wire.Response{Result: &wire.Response_PrekeyCounts{PrekeyCounts: &wire.PreKeyCounts{Ec: 1 << 31, Kyber: 1 << 31}}}
		}}}},
		{"Sent: answered with errors", frameHook{response: map[string]func(*wire.Response) *wire.Response{"Send": errResponse(wire.Code_AUTH_FAILED)}}},
		{"Sent: answered as a token refusal", frameHook{response: map[string]func(*wire.Response) *wire.Response{"Send": errResponse(wire.Code_TOKEN_REJECTED)}}},
		{"Acked: refused", frameHook{response: map[string]func(*wire.Response) *wire.Response{"Ack": errResponse(wire.Code_INTERNAL)}}},
		{"Bundles: for another device with garbage keys", frameHook{inject: func(*testing.T) []*wire.Frame {
			return []*wire.Frame{{Body: &wire.Frame_Response{Response: &wire.Response{Id: 1 << 40, Result: &wire.Response_Bundles{Bundles: &wire.Bundles{Bundles: []*wire.Bundle{{Device: 9, IdentityKey: []byte{5, 1}}}}}}}}}
		}}},
		{"unsolicited answers of every kind", frameHook{inject: func(*testing.T) []*wire.Frame {
			var out []*wire.Frame
			for i, r := range []*wire.Response{
				{Result: &wire.Response_Registered{Registered: &wire.Registered{Account: b, Device: 2}}},
				{Result: &wire.Response_Authenticated{Authenticated: &wire.Authenticated{Account: &wire.AccountInfo{Account: b}}}},
				{Result: &wire.Response_AccountDeleted{AccountDeleted: &wire.AccountDeleted{}}},
				{Result: &wire.Response_Account{Account: &wire.AccountInfo{Revoked: true}}},
				{Result: &wire.Response_SenderCertificate{SenderCertificate: &wire.SenderCertificate{Certificate: otherCert.Bytes()}}},
				{Result: &wire.Response_DeliveryVerifierSet{DeliveryVerifierSet: &wire.DeliveryVerifierSet{}}},
				{Result: &wire.Response_PrekeyCounts{PrekeyCounts: &wire.PreKeyCounts{}}},
			} {
				r.Id = uint64(1<<41 + i)
				out = append(out, &wire.Frame{Body: &wire.Frame_Response{Response: r}})
			}
			return out
		}}},
		{"Push: garbage, empty and oversized envelopes", frameHook{inject: pushOf(
			&wire.Envelope{Id: randomID(), Content: []byte{0x11, 1, 2, 3}},
			&wire.Envelope{Id: randomID()},
			&wire.Envelope{Id: []byte("short"), Content: bytes.Repeat([]byte{0x11}, 4096)},
			withSender(&wire.Envelope{Id: randomID(), ServerTime: -1, Content: []byte{3, 0, 0}}, b, 200),
			withSender(&wire.Envelope{Id: randomID(), ServerTime: 1 << 62, Content: []byte{2, 9}}, a, 1),
		)}},
		{"Push: Alice's own certificate around garbage", frameHook{inject: func(t *testing.T) []*wire.Frame {
			cert, _ := sealed.ParseSenderCertificate(certFor(a, alice.c.core.Local.KeyPair.Public, time.Now().Add(time.Hour)))
			env, _ := sealed.Encrypt(&sealed.Content{Type: sealed.TypeWhisper, Sender: cert, Message: []byte("x")}, newAttacker().ik, alice.c.core.Local.KeyPair.Public)
			return pushOf(&wire.Envelope{Id: randomID(), ServerTime: time.Now().Unix(), Content: env})(t)
		}}},
		{"Error: replaced", frameHook{inject: errFrame(wire.Code_REPLACED)}},
		{"Error: account revoked", frameHook{inject: errFrame(wire.Code_ACCOUNT_REVOKED)}},
		{"Error: account deleted", frameHook{inject: errFrame(wire.Code_NOT_FOUND)}},
		{"Error: slow client", frameHook{inject: errFrame(wire.Code_SLOW_CLIENT)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			beforeA, beforeB := keyState(t, alice, b), keyState(t, bob, a)
			mu.Lock()
			sentByAlice, uploads, verifiers = nil, 0, 0
			mu.Unlock()
			set(tc.hook)
			if tc.hook.welcome != nil || tc.hook.response["Authenticate"] != nil || tc.hook.response["GetSenderCertificate"] != nil ||
				tc.hook.response["GetPrekeyCounts"] != nil || tc.hook.response["SetDeliveryVerifier"] != nil {
				drop() // the next connection meets the hostile server
				reconnects[tc.name] = true
			}
			if tc.hook.inject != nil {
				if err := alice.c.WaitConnected(ctxT(t)); err != nil {
					t.Fatal(err)
				}
				if c := ev.conn(a); c != nil {
					for _, f := range tc.hook.inject(t) {
						c.inject(f)
					}
				}
			}
			if tc.hook.response["SetDeliveryVerifier"] != nil {
				if err := alice.c.core.RotateAccessKey(); err != nil {
					t.Fatal(err)
				}
				beforeA = keyState(t, alice, b) // the user's own change
			}
			alice.send(b, "during: "+tc.name)
			time.Sleep(150 * time.Millisecond)
			// The server behaves again: the conversation goes on.
			set(frameHook{})
			drop()
			if got := texts(t, bob, 1); !strings.HasPrefix(got[0], "during: ") {
				t.Fatalf("bob got %q", got)
			}
			alice.send(b, "after: "+tc.name)
			if got := texts(t, bob, 1); got[0] != "after: "+tc.name {
				t.Fatalf("bob got %q", got)
			}
			alice.flush()
			if afterA := keyState(t, alice, b); afterA != beforeA {
				t.Errorf("Alice's keys or settings changed:\nbefore %s\nafter  %s", beforeA, afterA)
			}
			if afterB := keyState(t, bob, a); afterB != beforeB {
				t.Errorf("Bob's keys or settings changed:\nbefore %s\nafter  %s", beforeB, afterB)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, raw := range sentByAlice {
				for _, sec := range secrets(alice) {
					if bytes.Contains(raw, sec) {
						t.Fatal("Alice sent a secret to the server")
					}
				}
			}
			if uploads != 0 {
				t.Errorf("Alice uploaded her signed prekeys again (%d times)", uploads)
			}
			// Only the user's own rotation (in that case) uploads a
			// verifier, retried after the refusal.
			if verifiers != 0 && tc.hook.response["SetDeliveryVerifier"] == nil {
				t.Errorf("Alice set her delivery verifier %d times", verifiers)
			}
		})
	}
	if sn := mustSN(t, alice.c, b); !sn.Verified || sn.Changed {
		t.Fatalf("Bob's safety number at Alice: %+v", sn)
	}
}
