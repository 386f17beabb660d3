package client

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/fingerprint"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/memstore"
	"github.com/skymsg/sky/protocol/prekey"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/wire"
)

// attacker is the key material a malicious server substitutes for a user's:
// a real identity with real prekeys, held in memory.
type attacker struct {
	ik    identity.KeyPair
	store *memstore.Store
	spk   prekey.SignedPreKey
	kyber prekey.KyberPreKey
}

func newAttacker() *attacker {
	ik := identity.Generate()
	a := &attacker{ik: ik, store: memstore.New(ik, 77)}
	a.spk = prekey.NewSignedPreKey(1, ik, time.Now())
	a.kyber = prekey.NewKyberPreKey(1, ik, time.Now(), true)
	a.store.StoreSignedPreKey(a.spk)
	a.store.StoreKyberPreKey(a.kyber)
	return a
}

func (a *attacker) bundle() *wire.Bundle {
	return &wire.Bundle{Device: 1, RegistrationId: 77, IdentityKey: a.ik.Public.Bytes(),
		SignedEc: &wire.PreKey{Id: a.spk.ID, Key: a.spk.KeyPair.Public.Bytes(), Signature: a.spk.Signature[:]},
		Kyber:    &wire.PreKey{Id: a.kyber.ID, Key: a.kyber.KeyPair.Public.Bytes(), Signature: a.kyber.Signature[:]}, KyberLastResort: true}
}

// decrypts reports whether the attacker can read a ciphertext alice sent.
func (a *attacker) decrypts(from string, content []byte) bool {
	if len(content) < 2 {
		return false
	}
	_, err := protocol.Decrypt(context.Background(), a.store.Stores(), protocol.Address{Name: "victim", DeviceID: 1},
		protocol.Address{Name: from, DeviceID: 1}, protocol.Ciphertext{Type: protocol.MessageType(content[0]), Bytes: content[1:]})
	return err == nil
}

// substitution makes the evil server hand out the attacker's bundle for
// victim and records every message sent to victim.
type substitution struct {
	mu      sync.Mutex
	on      bool
	fetches map[string]bool // account/request ID of bundle fetches for the victim
	sent    [][]byte        // contents sent to the victim while on
}

func (s *substitution) hooks(victim string, a *attacker) (toClient, toServer func(string, *wire.Frame) []*wire.Frame) {
	s.fetches = map[string]bool{}
	toServer = func(acct string, f *wire.Frame) []*wire.Frame {
		s.mu.Lock()
		defer s.mu.Unlock()
		req := f.GetRequest()
		if fb := req.GetFetchBundles(); fb != nil && fb.GetAccount() == victim && s.on {
			s.fetches[fmt.Sprint(acct, "/", req.GetId())] = true
		}
		if snd := req.GetSend(); snd != nil && snd.GetAccount() == victim && s.on {
			s.sent = append(s.sent, snd.GetContent())
		}
		return []*wire.Frame{f}
	}
	toClient = func(acct string, f *wire.Frame) []*wire.Frame {
		s.mu.Lock()
		defer s.mu.Unlock()
		if r := f.GetResponse(); r != nil && s.fetches[fmt.Sprint(acct, "/", r.GetId())] && r.GetBundles() != nil {
			r.GetBundles().Bundles = []*wire.Bundle{a.bundle()}
		}
		if dl := f.GetResponse().GetDeviceList(); dl != nil && s.on {
			// The victim's signed device list would give the substitution
			// away (its registration ID is not the attacker's), so the
			// server hides it: for a first contact, nothing says there was
			// one.
			dl.List, dl.IdentityKey = nil, a.ik.Public.Bytes()
		}
		return []*wire.Frame{f}
	}
	return
}

// archiveSessions makes u start over with peer from a fresh bundle (what a
// session reset or a reinstall on the other side leads to).
func archiveSessions(t *testing.T, u *user, peer string) {
	t.Helper()
	err := u.c.core.Update(func(tx *store.Tx) error {
		devs, err := tx.SessionDevices(peer)
		if err != nil {
			return err
		}
		for _, d := range devs {
			rec, err := tx.Session(store.Address{Name: peer, Device: d})
			if err != nil {
				return err
			}
			r, err := protocol.ParseSessionRecord(rec)
			if err != nil {
				return err
			}
			r.ArchiveCurrent()
			b, _ := r.MarshalBinary()
			if err := tx.PutSession(store.Address{Name: peer, Device: d}, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestEvilIdentitySubstitution is acceptance test 7: the server hands out
// an attacker's bundle for Bob (a) on first contact and (b) after Alice
// verified Bob.
func TestEvilIdentitySubstitution(t *testing.T) {
	s := startSkyd(t)
	ev := startEvil(t, s)
	bob := newUser(t, s, testOptions(nil))
	b := bob.c.ID()
	mallory := newAttacker()
	var sub substitution
	ev.set(sub.hooks(b, mallory))

	t.Run("first contact", func(t *testing.T) {
		alice := newUserAt(t, s, ev.url(), testOptions(nil))
		sub.mu.Lock()
		sub.on, sub.sent = true, nil
		sub.mu.Unlock()
		alice.send(b, "first contact")
		alice.flush()
		// Trust on first use pinned the attacker's key, and the safety
		// number shows it: it is not the one Bob's real key gives.
		sn, err := alice.c.SafetyNumber(b)
		if err != nil {
			t.Fatal(err)
		}
		real, _ := fingerprint.New(fingerprint.Version, fingerprint.Iterations, []byte(alice.c.ID()), alice.c.core.Local.KeyPair.Public, []byte(b), bob.c.core.Local.KeyPair.Public)
		fake, _ := fingerprint.New(fingerprint.Version, fingerprint.Iterations, []byte(alice.c.ID()), alice.c.core.Local.KeyPair.Public, []byte(b), mallory.ik.Public)
		if sn.Digits == real.Displayable || sn.Digits != fake.Displayable || sn.Verified {
			t.Fatalf("the safety number does not expose the substituted key")
		}
		realForBob, _ := fingerprint.New(fingerprint.Version, fingerprint.Iterations, []byte(b), bob.c.core.Local.KeyPair.Public, []byte(alice.c.ID()), alice.c.core.Local.KeyPair.Public)
		if ok, err := alice.c.CompareScanned(b, realForBob.Scannable); ok || err != nil {
			t.Fatalf("Bob's QR code matched the substituted key: %v %v", ok, err)
		}
		sub.mu.Lock()
		sub.on = false
		sub.mu.Unlock()
	})

	t.Run("verified contact", func(t *testing.T) {
		alice := newUserAt(t, s, ev.url(), testOptions(nil))
		a := alice.c.ID()
		alice.send(b, "hi bob")
		texts(t, bob, 1)
		bob.send(a, "hi alice")
		texts(t, alice, 1)
		sa, sb := mustSN(t, alice.c, b), mustSN(t, bob.c, a)
		if sa.Digits != sb.Digits {
			t.Fatal("honest safety numbers differ")
		}
		if ok, err := alice.c.CompareScanned(b, sb.Scannable); !ok || err != nil {
			t.Fatalf("scanning Bob's code: %v %v", ok, err)
		}
		if err := alice.c.Verify(ctxT(t), b, sb.Digits); err != nil {
			t.Fatal(err)
		}
		if !mustSN(t, alice.c, b).Verified {
			t.Fatal("not marked verified")
		}
		// What Alice queued so far (her delivery receipt for "hi alice")
		// goes out on the honest session before the server turns.
		alice.flush()
		// Alice has to start over with Bob; the server substitutes.
		archiveSessions(t, alice, b)
		sub.mu.Lock()
		sub.on, sub.sent = true, nil
		sub.mu.Unlock()
		alice.send(b, "secret for bob only")
		err := alice.c.Flush(ctxT(t))
		var ice *IdentityChangedError
		if !errors.As(err, &ice) || ice.Peer != b || !ice.Verified {
			t.Fatalf("Flush: %v", err)
		}
		e := next(t, alice, func(e *IdentityChangedEvent) bool { return e.Peer == b })
		if !e.Verified {
			t.Fatal("the event does not say the old key was verified")
		}
		if _, err := alice.c.Send(b, "more"); !errors.As(err, &ice) {
			t.Fatalf("Send after the change: %v", err)
		}
		sn := mustSN(t, alice.c, b)
		if !sn.Changed || sn.Verified {
			t.Fatalf("safety number state %+v", sn)
		}
		sub.mu.Lock()
		sent := slices.Clone(sub.sent)
		sub.mu.Unlock()
		if len(sent) != 0 {
			t.Fatalf("%d messages went to the substituted key", len(sent))
		}
		for _, ct := range sent {
			if mallory.decrypts(a, ct) {
				t.Fatal("the attacker decrypted a message")
			}
		}
		// The blocked message waits in the outbox (with, depending on
		// timing, Alice's delivery receipt for Bob's "hi alice", which
		// waits for the same decision).
		var waiting int
		for _, it := range alice.outbox() {
			if it.MessageRef != 0 {
				waiting++
			}
		}
		if waiting != 1 {
			t.Fatalf("the blocked message should wait in the outbox, %d messages", waiting)
		}
	})
}

func mustSN(t *testing.T, c *Client, peer string) SafetyNumber {
	t.Helper()
	sn, err := c.SafetyNumber(peer)
	if err != nil {
		t.Fatal(err)
	}
	return sn
}

// TestEvilKeyChangeInFirstMessage: the server injects a first message
// claiming to come from Alice, made with another identity key. Bob shows
// nothing from it, says the key changed, and stops sending to Alice until he
// decides; accepting the key reads the held message.
func TestEvilKeyChangeInFirstMessage(t *testing.T) {
	s := startSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	ev := startEvil(t, s)
	bob := newUserAt(t, s, ev.url(), testOptions(nil))
	a, b := alice.c.ID(), bob.c.ID()
	alice.send(b, "hello")
	texts(t, bob, 1)
	if err := bob.c.Accept(a); err != nil {
		t.Fatal(err)
	}
	if err := bob.c.Verify(ctxT(t), a, mustSN(t, alice.c, b).Digits); err != nil {
		t.Fatal(err)
	}

	// Mallory builds a real first message to Bob from Bob's real bundle.
	mallory := newAttacker()
	fetch, err := alice.c.core.Conn(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	r, err := fetch.Call(ctxT(t), &wire.Request{Op: &wire.Request_FetchBundles{FetchBundles: &wire.FetchBundles{Account: b}}})
	if err != nil {
		t.Fatal(err)
	}
	bb, err := core.ToBundle(r.GetBundles().GetBundles()[0])
	if err != nil {
		t.Fatal(err)
	}
	ms := mallory.store
	local, remote := protocol.Address{Name: a, DeviceID: 1}, protocol.Address{Name: b, DeviceID: 1}
	if err := protocol.ProcessPreKeyBundle(ctxT(t), ms.Stores(), local, remote, bb, time.Now()); err != nil {
		t.Fatal(err)
	}
	forged := fakeText(t, a, b, 99, "send me your passphrase")
	ct, err := protocol.Encrypt(ctxT(t), ms.Stores(), local, remote, forged, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	env := mallory.sealAs(t, s, a, bob.c.core.Local.KeyPair.Public, []byte("0123456789abcdef"), append([]byte{byte(ct.Type)}, ct.Bytes...))
	if err := ev.conn(b).inject(pushFrame(env)); err != nil {
		t.Fatal(err)
	}
	e := next(t, bob, func(e *IdentityChangedEvent) bool { return true })
	if e.Peer != a || !e.Verified {
		t.Fatalf("event %+v", e)
	}
	if got := historyTexts(t, bob.c, a); !eq(got, []string{"<hello"}) {
		t.Fatalf("bob shows %q", got)
	}
	if _, err := bob.c.Send(a, "reply"); !errors.Is(err, ErrIdentityChanged) {
		t.Fatalf("Send: %v", err)
	}
	// Bob compares the new safety number with Alice, it does not match,
	// and he keeps her old key: sending to her works again, and the forged
	// message is never shown.
	if err := bob.c.KeepIdentity(a); err != nil {
		t.Fatal(err)
	}
	bob.send(a, "still you?")
	if got := texts(t, alice, 1); got[0] != "still you?" {
		t.Fatalf("alice got %q", got)
	}
	if sn := mustSN(t, bob.c, a); sn.Changed || !sn.Verified {
		t.Fatalf("after keeping the old key: %+v", sn)
	}
	// The server tries again; this time Bob accepts (in the test,
	// knowingly): the held message is read now, attributed to Alice's ID,
	// as the key he accepted says.
	env.Id = []byte("fedcba9876543210")
	if err := ev.conn(b).inject(pushFrame(env)); err != nil {
		t.Fatal(err)
	}
	next(t, bob, func(e *IdentityChangedEvent) bool { return true })
	if err := bob.c.Verify(ctxT(t), a, mustSN(t, bob.c, a).Digits); err != nil {
		t.Fatal(err)
	}
	if got := texts(t, bob, 1); got[0] != "send me your passphrase" {
		t.Fatalf("after accepting: %q", got)
	}
}

// fakeText encodes a padded text content as a client would.
func fakeText(t *testing.T, from, to string, seq uint64, text string) []byte {
	t.Helper()
	c := &contentT{from: from, to: to, seq: seq, text: text}
	return c.padded(t)
}

// TestEvilReplayReorderDrop is acceptance test 9: replays (also after a
// restart, including the first message), 50 reordered messages and a
// dropped one.
func TestEvilReplayReorderDrop(t *testing.T) {
	s := startSkyd(t)
	ev := startEvil(t, s)
	alice := newUser(t, s, testOptions(nil))
	bob := newUserAt(t, s, ev.url(), testOptions(nil))
	a, b := alice.c.ID(), bob.c.ID()

	var mu sync.Mutex
	var seen []*wire.Envelope // every envelope pushed to Bob
	var hold []*wire.Envelope // envelopes held back for reordering
	holding, dropNth := 0, -1
	count := 0
	ev.set(func(acct string, f *wire.Frame) []*wire.Frame {
		envs := pushed(f)
		if acct != b || envs == nil {
			return []*wire.Frame{f}
		}
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, envs...)
		var out []*wire.Envelope
		for _, e := range envs {
			count++
			if count == dropNth {
				continue // dropped; Bob never sees it (and never acks it)
			}
			out = append(out, e)
		}
		if holding > 0 {
			hold = append(hold, out...)
			if len(hold) < holding {
				return nil
			}
			out, hold, holding = hold, nil, 0
			rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
			// deliver in several pushes, shuffled
			var frames []*wire.Frame
			for len(out) > 0 {
				n := min(len(out), 1+rand.IntN(7))
				frames = append(frames, pushFrame(out[:n]...))
				out = out[n:]
			}
			return frames
		}
		if len(out) == 0 {
			return nil
		}
		return []*wire.Frame{pushFrame(out...)}
	}, nil)

	alice.send(b, "first")
	alice.send(b, "second")
	if got := texts(t, bob, 2); !eq(got, []string{"first", "second"}) {
		t.Fatalf("bob got %q", got)
	}
	if err := bob.c.Accept(a); err != nil {
		t.Fatal(err)
	}

	// Replay everything delivered so far, on the live connection and after
	// a restart of Bob.
	mu.Lock()
	replay := slices.Clone(seen)
	mu.Unlock()
	if err := ev.conn(b).inject(pushFrame(replay...)); err != nil {
		t.Fatal(err)
	}
	bob.reopen()
	if err := ev.conn(b).inject(pushFrame(replay...)); err != nil {
		t.Fatal(err)
	}
	// Replays are dropped; a fresh message proves Bob processed them.
	alice.send(b, "third")
	if got := texts(t, bob, 1); got[0] != "third" {
		t.Fatalf("after replays bob showed %q first", got)
	}

	// 50 messages, reordered by the server.
	mu.Lock()
	holding = 50
	mu.Unlock()
	var want []string
	for i := range 50 {
		want = append(want, fmt.Sprint("m", i))
		alice.send(b, want[i])
	}
	alice.flush()
	if got := texts(t, bob, 50); !eq(got, want) {
		t.Fatalf("reordered delivery shown as %q", got)
	}

	// Drop 1 of 10: the other 9 are shown in order, and the gap is reported.
	mu.Lock()
	dropNth = count + 4
	mu.Unlock()
	want = nil
	for i := range 10 {
		alice.send(b, fmt.Sprint("d", i))
		if i != 3 {
			want = append(want, fmt.Sprint("d", i))
		}
	}
	alice.flush()
	var got []string
	var gaps []*GapEvent
	for len(got)-len(gaps) < 9 {
		switch e := next(t, bob, func(e Event) bool { _, m := e.(*MessageEvent); _, g := e.(*GapEvent); return m || g }).(type) {
		case *MessageEvent:
			got = append(got, e.Message.Text)
		case *GapEvent:
			gaps = append(gaps, e)
			got = append(got, "gap")
		}
	}
	want = append(append(want[:3:3], "gap"), want[3:]...)
	if !eq(got, want) || len(gaps) != 1 || gaps[0].Peer != a || gaps[0].Missing != 1 {
		t.Fatalf("with a drop shown as %q, gaps %+v", got, gaps)
	}
	want = slices.DeleteFunc(want, func(s string) bool { return s == "gap" })
	full := append([]string{"<first", "<second", "<third"}, prefixed("<m", 50)...)
	for _, w := range want {
		full = append(full, "<"+w)
	}
	if got := historyTexts(t, bob.c, a); !eq(got, full) {
		t.Fatalf("history:\n got %q\nwant %q", got, full)
	}
}

func prefixed(p string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprint(p, i))
	}
	return out
}

// TestEvilSenderSpoofing is acceptance test 10, with sealed sender: the
// server cannot see or rewrite the sender inside a sealed envelope, so it
// adds sender fields (ignored), and, holding the key that signs sender
// certificates, mints certificates naming someone else around messages of
// its own. Bob never shows a message as coming from anyone but the
// cryptographically authenticated sender: a sender field is ignored, a
// certificate under another root or past its expiry is refused, one that
// vouches for a key other than the session's is refused, and a first
// message with a new key for a known peer is a key change to decide on.
func TestEvilSenderSpoofing(t *testing.T) {
	s := startSkyd(t)
	ev := startEvil(t, s)
	alice := newUser(t, s, testOptions(nil))
	carol := newUser(t, s, testOptions(nil))
	bob := newUserAt(t, s, ev.url(), testOptions(nil))
	a, b, c := alice.c.ID(), bob.c.ID(), carol.c.ID()
	var mu sync.Mutex
	rewrite := func(*wire.Envelope) {}
	ev.set(func(acct string, f *wire.Frame) []*wire.Frame {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range pushed(f) {
			if acct == b {
				rewrite(e)
			}
		}
		return []*wire.Frame{f}
	}, nil)
	set := func(fn func(*wire.Envelope)) { mu.Lock(); rewrite = fn; mu.Unlock() }

	// Sender fields the server adds to sealed envelopes change nothing.
	set(func(e *wire.Envelope) { withSender(e, c, 1) })
	alice.send(b, "from alice, claimed carol")
	m := next(t, bob, func(e *MessageEvent) bool { return true })
	if m.Message.From != a || m.Message.Text != "from alice, claimed carol" {
		t.Fatalf("shown as %+v", m.Message)
	}
	set(func(e *wire.Envelope) { withSender(e, a, 2) })
	alice.send(b, "claimed another device")
	if m := next(t, bob, func(e *MessageEvent) bool { return true }); m.Message.From != a {
		t.Fatalf("shown as %+v", m.Message)
	}
	set(func(*wire.Envelope) {})
	carol.send(b, "real carol")
	if m := next(t, bob, func(e *MessageEvent) bool { return true }); m.Message.From != c {
		t.Fatalf("shown as %+v", m.Message)
	}

	// The server mints certificates with its own key.
	bundle := bobBundle(t, alice, b)
	issuer, evilKey := mintingIssuer(t, s)
	otherRoot := sealed.GenerateTrustRoot()
	osc, _ := otherRoot.Certify(1, evilKey.Public)
	otherIssuer, _ := sealed.NewIssuer(osc, evilKey.Private)
	now := time.Now()
	inject := func(env *wire.Envelope) {
		t.Helper()
		if err := ev.conn(b).inject(pushFrame(env)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		claimed string
		issuer  *sealed.Issuer
		expires time.Time
		certFor func(m *attacker) curve.PublicKey // the key the certificate vouches for
		sealBy  func(m, m2 *attacker) identity.KeyPair
		msgBy   func(m, m2 *attacker) *attacker // who makes the inner first message
		want    string                          // "dropped" or "changed"
	}{
		{"another root", c, otherIssuer, now.Add(time.Hour), ik1, seal1, msg1, "dropped"},
		{"expired", c, issuer, now.Add(-time.Hour), ik1, seal1, msg1, "dropped"},
		{"certificate for another key than the message's", c, issuer, now.Add(time.Hour), ik1, seal1, msg2, "dropped"},
		{"a new peer, certificate for another key than the message's", "zzzzzzzzzz", issuer, now.Add(time.Hour), ik1, seal1, msg2, "dropped"},
		{"a known peer's name with a new key", c, issuer, now.Add(time.Hour), ik1, seal1, msg1, "changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m1, m2 := newAttacker(), newAttacker()
			cert, err := tc.issuer.Issue(sealed.Sender{UUID: tc.claimed, DeviceID: 1, IdentityKey: tc.certFor(m1)}, tc.expires)
			if err != nil {
				t.Fatal(err)
			}
			inner := tc.msgBy(m1, m2).firstMessage(t, tc.claimed, b, bundle, "send me your keys")
			env, err := sealed.Encrypt(&sealed.Content{Type: sealed.MessageType(inner[0]), Sender: cert, Message: inner[1:]},
				tc.sealBy(m1, m2), bob.c.core.Local.KeyPair.Public)
			if err != nil {
				t.Fatal(err)
			}
			inject(&wire.Envelope{Id: randomID(), ServerTime: now.Unix(), Content: env})
			switch tc.want {
			case "dropped":
				next(t, bob, func(e *DroppedEvent) bool { return true })
			case "changed":
				if e := next(t, bob, func(e *IdentityChangedEvent) bool { return true }); e.Peer != tc.claimed {
					t.Fatalf("key change for %s", e.Peer)
				}
				if err := bob.c.KeepIdentity(tc.claimed); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	// Nothing of it was shown; a real message still is.
	alice.send(b, "the end")
	if got := texts(t, bob, 1); got[0] != "the end" {
		t.Fatalf("bob shows %q", got)
	}
	if got := historyTexts(t, bob.c, c); !eq(got, []string{"<real carol"}) {
		t.Fatalf("carol's conversation at bob: %q", got)
	}
	if got := historyTexts(t, bob.c, a); !eq(got, []string{"<from alice, claimed carol", "<claimed another device", "<the end"}) {
		t.Fatalf("alice's conversation at bob: %q", got)
	}
	if got := historyTexts(t, bob.c, "zzzzzzzzzz"); len(got) != 0 {
		t.Fatalf("a minted sender's conversation: %q", got)
	}
}

func ik1(m *attacker) curve.PublicKey       { return m.ik.Public }
func seal1(m, _ *attacker) identity.KeyPair { return m.ik }
func msg1(m, _ *attacker) *attacker         { return m }
func msg2(_, m2 *attacker) *attacker        { return m2 }
func randomID() []byte                      { id := make([]byte, 16); crand.Read(id); return id }

// bobBundle fetches peer's bundle through u's connection and checks it as
// a client does.
func bobBundle(t *testing.T, u *user, peer string) *prekey.Bundle {
	t.Helper()
	bb, err := core.ToBundle(fetchBundle(t, u, peer))
	if err != nil {
		t.Fatal(err)
	}
	return bb
}

// firstMessage is a real first message (type byte and bytes) from the
// attacker, claiming to be from, to the device whose bundle is given.
func (m *attacker) firstMessage(t *testing.T, from, to string, b *prekey.Bundle, text string) []byte {
	t.Helper()
	local, remote := protocol.Address{Name: from, DeviceID: 1}, protocol.Address{Name: to, DeviceID: 1}
	if err := protocol.ProcessPreKeyBundle(ctxT(t), m.store.Stores(), local, remote, b, time.Now()); err != nil {
		t.Fatal(err)
	}
	ct, err := protocol.Encrypt(ctxT(t), m.store.Stores(), local, remote, fakeText(t, from, to, 1, text), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte{byte(ct.Type)}, ct.Bytes...)
}

// contentT builds a padded text content by hand.
type contentT struct {
	from, to string
	seq      uint64
	text     string
}

func (c *contentT) padded(t *testing.T) []byte {
	t.Helper()
	b, err := content.Encode(&content.Content{Version: content.Version, Sender: c.from, SenderDevice: 1, Recipient: c.to,
		ID: core.NewContentID(), SentAt: time.Now(), Seq: c.seq, Kind: content.KindText, Text: c.text})
	if err != nil {
		t.Fatal(err)
	}
	p, err := content.Pad(b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
