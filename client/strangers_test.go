package client

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol/prekey"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/wire"
)

// TestForgedStrangersStoreNothing (issue 10 item 7): a hostile server
// posing as many strangers (it mints their sender certificates) who send
// receipts, sender keys and departures — content that starts no request —
// makes the client store nothing for them: no session, no pinned identity.
// Only what starts a request is kept, within the request bound.
func TestForgedStrangersStoreNothing(t *testing.T) {
	n := 200
	if os.Getenv("SKY_SLOW_TESTS") == "1" {
		n = 1000
	}
	s := startSkyd(t)
	ev := startEvil(t, s)
	opts := testOptions(nil)
	opts.MaxRequests = 1
	bob := newUserAt(t, s, ev.url(), opts)
	alice := newUser(t, s, testOptions(nil))
	b := bob.c.ID()
	issuer, _ := mintingIssuer(t, s)
	bundle := lastResortBundle(t, bob)

	var strangers []string
	var envs []*wire.Envelope
	for i := range n {
		m := newAttacker()
		from := randomAccountID()
		strangers = append(strangers, from)
		ct := &content.Content{Version: content.Version, Sender: from, SenderDevice: 1, Recipient: b, SentAt: time.Now(), Seq: 1}
		switch i % 3 {
		case 0:
			ct.Kind, ct.Receipt, ct.IDs, ct.Seq = content.KindReceipt, content.Delivered, []content.ID{{1}}, 0
		case 1:
			ct.Kind, ct.GroupID = content.KindGroupLeave, content.GroupID{byte(i)}
		case 2:
			ct.Kind, ct.GroupID, ct.Distribution, ct.NextSeq = content.KindSenderKey, content.GroupID{byte(i)}, []byte{0x33, 1, 2}, 1
		}
		ct.ID = core.NewContentID()
		inner := m.firstContent(t, from, b, bundle, ct)
		cert, err := issuer.Issue(sealed.Sender{UUID: from, DeviceID: 1, IdentityKey: m.ik.Public}, time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		env, err := sealed.Encrypt(&sealed.Content{Type: sealed.MessageType(inner[0]), Sender: cert, Message: inner[1:]}, m.ik, bob.c.core.Local.KeyPair.Public)
		if err != nil {
			t.Fatal(err)
		}
		envs = append(envs, &wire.Envelope{Id: randomID(), ServerTime: time.Now().Unix(), Content: env})
	}
	for len(envs) > 0 {
		k := min(len(envs), 100)
		if err := ev.conn(b).inject(pushFrame(envs[:k]...)); err != nil {
			t.Fatal(err)
		}
		envs = envs[k:]
	}
	// A real message after them: once it is shown, they were handled.
	alice.send(b, "after the strangers")
	if got := texts(t, bob, 1); got[0] != "after the strangers" {
		t.Fatalf("bob got %q", got)
	}
	kept := 0
	err := bob.c.core.View(func(tx *store.Tx) error {
		for _, p := range strangers {
			devs, err := tx.SessionDevices(p)
			if err != nil {
				return err
			}
			_, err = tx.PeerIdentity(store.Address{Name: p, Device: 1})
			switch {
			case err == nil || len(devs) > 0:
				kept++
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if kept != 0 {
		t.Fatalf("%d of %d forged strangers left a session or a pinned key", kept, n)
	}
}

// randomAccountID returns a made-up Sky ID.
func randomAccountID() string {
	const alphabet = wire.AccountIDAlphabet
	id := randomID()
	out := make([]byte, wire.AccountIDLength)
	for i := range out {
		out[i] = alphabet[int(id[i])%len(alphabet)]
	}
	return string(out)
}

// lastResortBundle is u's bundle on its signed and last-resort prekeys (no
// one-time keys), which any number of first messages may use.
func lastResortBundle(t *testing.T, u *user) *prekey.Bundle {
	t.Helper()
	var b *prekey.Bundle
	err := u.c.core.View(func(tx *store.Tx) error {
		ps, err := core.LoadPreKeyState(tx)
		if err != nil {
			return err
		}
		raw, err := tx.PreKey(store.SignedPreKey, ps.SignedID)
		if err != nil {
			return err
		}
		spk, err := prekey.ParseSignedPreKey(raw)
		if err != nil {
			return err
		}
		if raw, err = tx.PreKey(store.KyberPreKey, ps.LastResortID); err != nil {
			return err
		}
		kpk, err := prekey.ParseKyberPreKey(raw)
		if err != nil {
			return err
		}
		b = &prekey.Bundle{RegistrationID: u.c.core.Local.RegistrationID, DeviceID: 1, IdentityKey: u.c.core.Local.KeyPair.Public,
			SignedPreKeyID: spk.ID, SignedPreKey: spk.KeyPair.Public, SignedPreKeySignature: spk.Signature[:],
			KyberPreKeyID: kpk.ID, KyberPreKey: kpk.KeyPair.Public, KyberPreKeySignature: kpk.Signature[:]}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
