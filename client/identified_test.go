package client

import (
	"testing"
	"time"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/wire"
	"google.golang.org/protobuf/encoding/protowire"
)

// withSender adds to e what a server of before identified sends were
// removed pushed as Envelope field 3: Sender{account, device}. The field is
// gone from wire/sky.proto, so it reaches the client only as an unknown
// field.
func withSender(e *wire.Envelope, account string, device uint32) *wire.Envelope {
	s := protowire.AppendTag(nil, 1, protowire.BytesType)
	s = protowire.AppendString(s, account)
	s = protowire.AppendTag(s, 2, protowire.VarintType)
	s = protowire.AppendVarint(s, uint64(device))
	u := protowire.AppendTag(nil, 3, protowire.BytesType)
	e.ProtoReflect().SetUnknown(protowire.AppendBytes(u, s))
	return e
}

// sealAs seals inner (a 1:1 message, its type byte first) for the device
// whose identity key is to, with m's identity key, in a certificate the
// server mints with a key of its own under the trust root it holds, naming
// from's device 1: what a hostile server can make now that every envelope
// is sealed.
func (m *attacker) sealAs(t *testing.T, s *skyd, from string, to curve.PublicKey, id, inner []byte) *wire.Envelope {
	t.Helper()
	issuer, _ := mintingIssuer(t, s)
	cert, err := issuer.Issue(sealed.Sender{UUID: from, DeviceID: 1, IdentityKey: m.ik.Public}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	env, err := sealed.Encrypt(&sealed.Content{Type: sealed.MessageType(inner[0]), Sender: cert, Message: inner[1:]}, m.ik, to)
	if err != nil {
		t.Fatal(err)
	}
	return &wire.Envelope{Id: id, ServerTime: time.Now().Unix(), Content: env}
}

// TestEvilIdentifiedEnvelope: identified envelopes (the sender named by the
// server outside, the session message not sealed) were removed. A hostile
// server that still pushes one, naming a contact as its sender around that
// contact's real session message, gets it dropped as an envelope of an
// unknown kind, reported, and never shown as from the contact; the
// contact's next (sealed) message still arrives. Before the removal the
// client read the sender field and showed the message as the contact's.
func TestEvilIdentifiedEnvelope(t *testing.T) {
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
	for i, env := range []*wire.Envelope{
		withSender(alice.unsealed(t, b, "identified, claimed alice", 50), a, 1),
		alice.unsealed(t, b, "identified, no sender at all", 51),
		withSender(&wire.Envelope{Id: randomID(), ServerTime: time.Now().Unix()}, a, 1),
	} {
		if err := ev.conn(b).inject(pushFrame(env)); err != nil {
			t.Fatal(err)
		}
		d := next(t, bob, func(e *DroppedEvent) bool { return true })
		if d.From != "" || d.Reason != "an envelope of an unknown kind (not sealed)" {
			t.Fatalf("envelope %d: dropped %+v, want an envelope of an unknown kind from no one", i, d)
		}
	}
	alice.send(b, "sealed, really alice")
	if m := next(t, bob, func(e *MessageEvent) bool { return true }); m.Message.From != a || m.Message.Text != "sealed, really alice" {
		t.Fatalf("shown %+v", m.Message)
	}
	if got := historyTexts(t, bob.c, a); !eq(got, []string{"<hello", "<sealed, really alice"}) {
		t.Fatalf("bob shows %q", got)
	}
}
