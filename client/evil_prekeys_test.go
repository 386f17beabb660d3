package client

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/message"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/wire"
)

// bundleRewriter makes the evil server rewrite the bundles it hands out
// for one target account, and remembers every genuine one it saw.
type bundleRewriter struct {
	mu      sync.Mutex
	target  string
	fetches map[string]bool // account/request ID of fetches for the target
	rewrite func(*wire.Bundle)
	seen    []*wire.Bundle // genuine bundles of the target, as the server sent them
	sends   map[string]int // sends to the target, by connection account
}

func (r *bundleRewriter) hooks() (toClient, toServer func(string, *wire.Frame) []*wire.Frame) {
	r.fetches, r.sends = map[string]bool{}, map[string]int{}
	toServer = func(acct string, f *wire.Frame) []*wire.Frame {
		r.mu.Lock()
		defer r.mu.Unlock()
		req := f.GetRequest()
		if fb := req.GetFetchBundles(); fb != nil && fb.GetAccount() == r.target {
			r.fetches[fmt.Sprint(acct, "/", req.GetId())] = true
		}
		if s := req.GetSend(); s != nil && s.GetAccount() == r.target {
			r.sends[acct]++
		}
		return []*wire.Frame{f}
	}
	toClient = func(acct string, f *wire.Frame) []*wire.Frame {
		r.mu.Lock()
		defer r.mu.Unlock()
		if resp := f.GetResponse(); resp != nil && r.fetches[fmt.Sprint(acct, "/", resp.GetId())] {
			for _, b := range resp.GetBundles().GetBundles() {
				r.seen = append(r.seen, proto.Clone(b).(*wire.Bundle))
				if r.rewrite != nil {
					r.rewrite(b)
				}
			}
		}
		return []*wire.Frame{f}
	}
	return
}

func (r *bundleRewriter) set(fn func(*wire.Bundle)) {
	r.mu.Lock()
	r.rewrite = fn
	r.mu.Unlock()
}

func (r *bundleRewriter) lastSeen() *wire.Bundle {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[len(r.seen)-1]
}

func (r *bundleRewriter) sent(acct string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sends[acct]
}

func sessionsWith(t *testing.T, u *user, peer string) []uint32 {
	t.Helper()
	var devs []uint32
	if err := u.c.core.View(func(tx *store.Tx) (err error) { devs, err = tx.SessionDevices(peer); return }); err != nil {
		t.Fatal(err)
	}
	return devs
}

// TestEvilPreKeyTampering is acceptance test 8: the server tampers with
// Bob's prekey bundle (a bad signed-prekey signature, the Kyber prekey
// stripped — a downgrade to X3DH — or with a bad signature) and the bundle
// is refused, nothing is sent; it hands out another of Bob's genuine,
// validly signed Kyber keys, and both sides bind that same key (the session
// works); it relabels a genuine key with another key's ID, and Bob creates
// no session; it sends Bob first messages relabelled to the pre-Kyber
// version or stripped of their Kyber ciphertext, and Bob refuses them
// without a trace.
func TestEvilPreKeyTampering(t *testing.T) {
	s := startSkyd(t)
	ev := startEvil(t, s)
	bob := newUserAt(t, s, ev.url(), testOptions(nil))
	b := bob.c.ID()
	rw := &bundleRewriter{target: b}
	ev.set(rw.hooks())

	refused := []struct {
		name    string
		rewrite func(*wire.Bundle)
	}{
		{"signed prekey signature broken", func(wb *wire.Bundle) { wb.SignedEc.Signature[10] ^= 1 }},
		{"Kyber prekey stripped", func(wb *wire.Bundle) { wb.Kyber = nil }},
		{"Kyber prekey signature broken", func(wb *wire.Bundle) { wb.Kyber.Signature[3] ^= 1 }},
		{"Kyber prekey of another identity", func(wb *wire.Bundle) { wb.Kyber = newAttacker().bundle().Kyber }},
		{"signed prekey swapped for the Kyber key's signature", func(wb *wire.Bundle) { wb.SignedEc.Signature = wb.Kyber.Signature }},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			rw.set(tc.rewrite)
			alice := newUserAt(t, s, ev.url(), testOptions(nil))
			alice.send(b, "for bob only")
			err := alice.c.Flush(ctxT(t))
			if err == nil || errors.Is(err, ErrOffline) {
				t.Fatalf("Flush with a tampered bundle: %v", err)
			}
			if n := rw.sent(alice.c.ID()); n != 0 {
				t.Fatalf("%d messages sent with a tampered bundle", n)
			}
			if devs := sessionsWith(t, alice, b); len(devs) != 0 {
				t.Fatalf("a session from a tampered bundle: %v", devs)
			}
			if n := len(alice.outbox()); n != 1 {
				t.Fatalf("the message should wait in the outbox, %d items", n)
			}
		})
	}

	t.Run("another genuine Kyber key binds on both sides", func(t *testing.T) {
		rw.set(nil)
		mallory := newUserAt(t, s, ev.url(), testOptions(nil))
		fetchBundle(t, mallory, b) // the server keeps a genuine key it handed out
		other := proto.Clone(rw.lastSeen().GetKyber()).(*wire.PreKey)
		rw.set(func(wb *wire.Bundle) { wb.Kyber, wb.KyberLastResort = other, false })
		alice := newUserAt(t, s, ev.url(), testOptions(nil))
		alice.send(b, "with the other key")
		if got := texts(t, bob, 1); got[0] != "with the other key" {
			t.Fatalf("bob got %q", got)
		}
	})

	t.Run("genuine Kyber key relabelled with another ID", func(t *testing.T) {
		rw.set(nil)
		mallory := newUserAt(t, s, ev.url(), testOptions(nil))
		fetchBundle(t, mallory, b)
		other := proto.Clone(rw.lastSeen().GetKyber()).(*wire.PreKey)
		rw.set(func(wb *wire.Bundle) { wb.Kyber.Key, wb.Kyber.Signature = other.Key, other.Signature })
		alice := newUserAt(t, s, ev.url(), testOptions(nil))
		alice.send(b, "relabelled")
		alice.flush()
		next(t, bob, func(e *DroppedEvent) bool { return e.From == alice.c.ID() })
		if devs := sessionsWith(t, bob, alice.c.ID()); len(devs) != 0 {
			t.Fatalf("bob made a session from a relabelled key: %v", devs)
		}
	})

	t.Run("first message relabelled or stripped of Kyber", func(t *testing.T) {
		rw.set(nil)
		relay := newUserAt(t, s, ev.url(), testOptions(nil))
		bundle := bobBundle(t, relay, b)
		trust := s.trust
		evilKey := curve.GenerateKeyPair()
		sc, _ := trust.Certify(78, evilKey.Public)
		issuer, _ := sealed.NewIssuer(sc, evilKey.Private)
		ec0, ky0, err := bob.c.PreKeyCounts(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		for i, tamper := range []func(*message.PreKeySignalMessage){
			func(m *message.PreKeySignalMessage) { m.Version = 3 },
			func(m *message.PreKeySignalMessage) { m.KyberCiphertext, m.KyberPreKeyID = nil, 0 },
			func(m *message.PreKeySignalMessage) { m.Version, m.KyberCiphertext, m.KyberPreKeyID = 3, nil, 0 },
		} {
			for k, asSealed := range []bool{false, true} {
				m := newAttacker()
				claimed := fmt.Sprintf("dwngrade%c%c", 'a'+i, 'a'+k) // a new peer for Bob
				inner := m.firstMessage(t, claimed, b, bundle, "downgraded")
				pm, err := message.ParsePreKeySignalMessage(inner[1:])
				if err != nil {
					t.Fatal(err)
				}
				tamper(pm)
				inner = append([]byte{inner[0]}, pm.Encode()...)
				// Identified (the sender named outside, as before they were
				// removed): never read, an envelope of an unknown kind.
				env := withSender(&wire.Envelope{Id: randomID(), ServerTime: time.Now().Unix(), Content: inner}, claimed, 1)
				from, want := "", "an envelope of an unknown kind (not sealed)"
				if asSealed {
					cert, _ := issuer.Issue(sealed.Sender{UUID: claimed, DeviceID: 1, IdentityKey: m.ik.Public}, time.Now().Add(time.Hour))
					sealedEnv, err := sealed.Encrypt(&sealed.Content{Type: sealed.TypePreKey, Sender: cert, Message: inner[1:]}, m.ik, bob.c.core.Local.KeyPair.Public)
					if err != nil {
						t.Fatal(err)
					}
					env = &wire.Envelope{Id: randomID(), ServerTime: time.Now().Unix(), Content: sealedEnv}
					from, want = claimed, "a message that does not decrypt"
				}
				if err := ev.conn(b).inject(pushFrame(env)); err != nil {
					t.Fatal(err)
				}
				if d := next(t, bob, func(e *DroppedEvent) bool { return e.From == from }); d.Reason != want {
					t.Fatalf("case %d (sealed %v): dropped %+v", i, asSealed, d)
				}
				if devs := sessionsWith(t, bob, claimed); len(devs) != 0 {
					t.Fatalf("case %d (sealed %v): bob made a session from a downgraded first message", i, asSealed)
				}
				reqs, _ := bob.c.Requests()
				for _, r := range reqs {
					if r.ID == claimed {
						t.Fatalf("case %d: a request from a downgraded first message", i)
					}
				}
			}
		}
		if ec, ky, err := bob.c.PreKeyCounts(ctxT(t)); err != nil || ec != ec0 || ky != ky0 {
			t.Fatalf("prekeys on the server changed: %d/%d EC, %d/%d Kyber, %v", ec, ec0, ky, ky0, err)
		}
	})
}

// fetchBundle has u fetch peer's bundle (consuming one-time keys) the way
// an attacker's client would.
func fetchBundle(t *testing.T, u *user, peer string) *wire.Bundle {
	t.Helper()
	cn, err := u.c.core.Conn(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	r, err := cn.Call(ctxT(t), &wire.Request{Op: &wire.Request_FetchBundles{FetchBundles: &wire.FetchBundles{Account: peer}}})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetBundles().GetBundles()[0]
}
