package sealed

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/serviceid"
)

// v2Party is one recipient account of the v2 tests.
type v2Party struct {
	id  serviceid.ID
	key identity.KeyPair
}

func v2Parties(t testing.TB, n int) []v2Party {
	t.Helper()
	out := make([]v2Party, n)
	for i := range out {
		id, ok := serviceid.Parse(fmt.Sprintf("cccccccc-0000-4000-8000-%012d", i+1))
		if !ok {
			t.Fatal("bad test UUID")
		}
		out[i] = v2Party{id: id, key: identity.Generate()}
	}
	return out
}

func multiRecipients(ps []v2Party) []MultiRecipient {
	to := make([]MultiRecipient, len(ps))
	for i, p := range ps {
		devs := []Device{{ID: 1, RegistrationID: uint32(100 + i)}}
		if i%2 == 1 {
			devs = append(devs, Device{ID: 7, RegistrationID: MaxV2RegistrationID})
		}
		to[i] = MultiRecipient{ServiceID: p.id, IdentityKey: p.key.Public, Devices: devs}
	}
	return to
}

// TestV2RoundTrip: a SentMessage for four accounts (two with two devices)
// and one excluded account parses back to the same recipients, and every
// recipient's ReceivedMessage opens to the content, with the certificate.
func TestV2RoundTrip(t *testing.T) {
	w := newWorld(t)
	ps := v2Parties(t, 5)
	to := multiRecipients(ps[:4])
	excluded := []serviceid.ID{ps[4].id}
	for _, c := range testContents(w.aliceCert) {
		sent, err := EncryptMulti(c, w.alice, to, excluded)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := ParseSentMessage(sent, 100)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Version != V2SentVersion || len(msg.Recipients) != 4 || len(msg.Excluded) != 1 || msg.Excluded[0] != ps[4].id {
			t.Fatalf("parsed version %#x, %d recipients, excluded %v", msg.Version, len(msg.Recipients), msg.Excluded)
		}
		cb, _ := c.Bytes()
		for i, r := range msg.Recipients {
			if r.ServiceID != to[i].ServiceID || fmt.Sprint(r.Devices) != fmt.Sprint(to[i].Devices) {
				t.Fatalf("recipient %d parsed as %s %v, sent %s %v", i, r.ServiceID, r.Devices, to[i].ServiceID, to[i].Devices)
			}
			rm := msg.Received(&msg.Recipients[i])
			if len(rm) != V2ReceivedOverhead+len(cb) || rm[0] != V2ReceivedVersion {
				t.Fatalf("received message of %d bytes, version %#x; want %d, 0x22", len(rm), rm[0], V2ReceivedOverhead+len(cb))
			}
			got, err := Open(rm, ps[i].key)
			if err != nil {
				t.Fatalf("recipient %d: %v", i, err)
			}
			if got.Type != c.Type || !bytes.Equal(got.Message, c.Message) || got.Sender.UUID() != aliceUUID || got.Hint != c.Hint || !bytes.Equal(got.GroupID, c.GroupID) {
				t.Fatalf("recipient %d opened %+v", i, got)
			}
		}
	}
}

// TestV2Refused: every alteration a server (or anyone) could make to a
// ReceivedMessage is refused as an invalid message, and so is a message
// opened by an account it was not made for.
func TestV2Refused(t *testing.T) {
	w := newWorld(t)
	ps := v2Parties(t, 3)
	c := &Content{Type: TypeSenderKey, Sender: w.aliceCert, Message: []byte("group ciphertext")}
	sent, err := EncryptMulti(c, w.alice, multiRecipients(ps[:2]), nil)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := ParseSentMessage(sent, 10)
	if err != nil {
		t.Fatal(err)
	}
	rm := msg.Received(&msg.Recipients[0])
	flip := func(i int) []byte { b := bytes.Clone(rm); b[i] ^= 1; return b }
	other := msg.Received(&msg.Recipients[1])
	// Bob's key material on Alice's shared part of another message.
	sent2, _ := EncryptMulti(c, w.alice, multiRecipients(ps[:2]), nil)
	msg2, _ := ParseSentMessage(sent2, 10)
	mixed := append(append([]byte{V2ReceivedVersion}, msg.Recipients[0].KeyMaterial...), msg2.shared...)
	// A forger who is not Alice makes a message naming Alice's certificate.
	mallory := identity.Generate()
	forged, _ := sealMulti(mustBytes(t, c), mallory, multiRecipients(ps[:1]), nil, newMessageKey())
	fmsg, _ := ParseSentMessage(forged, 10)
	for _, tc := range []struct {
		name string
		b    []byte
		key  identity.KeyPair
	}{
		{"C altered", flip(1), ps[0].key},
		{"AT altered", flip(1 + 32), ps[0].key},
		{"E altered", flip(1 + 48), ps[0].key},
		{"shared ciphertext altered", flip(len(rm) - 20), ps[0].key},
		{"shared tag altered", flip(len(rm) - 1), ps[0].key},
		{"truncated", rm[:len(rm)-1], ps[0].key},
		{"too short", rm[:80], ps[0].key},
		{"another recipient's message", other, ps[0].key},
		{"a recipient not in the set", rm, ps[2].key},
		{"key material of another message", mixed, ps[0].key},
		{"sealed by a key the certificate does not name", fmsg.Received(&fmsg.Recipients[0]), ps[0].key},
	} {
		if _, err := Open(tc.b, tc.key); !errors.Is(err, errs.InvalidMessage) {
			t.Errorf("%s: %v, want an invalid message", tc.name, err)
		}
	}
}

func mustBytes(t testing.TB, c *Content) []byte {
	b, err := c.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestV2EncryptChecks: EncryptMulti refuses what libsignal cannot carry.
func TestV2EncryptChecks(t *testing.T) {
	w := newWorld(t)
	ps := v2Parties(t, 2)
	c := &Content{Type: TypeWhisper, Sender: w.aliceCert, Message: []byte("x")}
	good := multiRecipients(ps)
	for _, tc := range []struct {
		name     string
		to       []MultiRecipient
		excluded []serviceid.ID
	}{
		{"no devices", []MultiRecipient{{ServiceID: ps[0].id, IdentityKey: ps[0].key.Public}}, nil},
		{"device 0", []MultiRecipient{{ServiceID: ps[0].id, IdentityKey: ps[0].key.Public, Devices: []Device{{ID: 0}}}}, nil},
		{"device 128", []MultiRecipient{{ServiceID: ps[0].id, IdentityKey: ps[0].key.Public, Devices: []Device{{ID: 128}}}}, nil},
		{"registration ID of 15 bits", []MultiRecipient{{ServiceID: ps[0].id, IdentityKey: ps[0].key.Public, Devices: []Device{{ID: 1, RegistrationID: 0x4000}}}}, nil},
		{"named twice", []MultiRecipient{good[0], good[0]}, nil},
		{"recipient excluded", good, []serviceid.ID{ps[0].id}},
	} {
		if _, err := EncryptMulti(c, w.alice, tc.to, tc.excluded); !errors.Is(err, errs.InvalidMessage) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if _, err := EncryptMulti(c, identity.Generate(), good, nil); !errors.Is(err, errs.InvalidKey) {
		t.Errorf("a certificate for another key: %v", err)
	}
}

// TestParseSentMessage covers the parser's rules with hand-made messages.
func TestParseSentMessage(t *testing.T) {
	id := func(b byte) []byte { return append([]byte{0}, bytes.Repeat([]byte{b}, 16)...) }
	km := bytes.Repeat([]byte{9}, V2KeyMaterialSize)
	e := bytes.Repeat([]byte{5}, 32)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name    string
		b       []byte
		ok      bool
		devices int
		exclude int
	}{
		{"one recipient", cat([]byte{0x23, 1}, id(1), []byte{1, 0, 5}, km, e), true, 1, 0},
		{"two devices", cat([]byte{0x23, 1}, id(1), []byte{1, 0x80, 5, 2, 0, 6}, km, e), true, 2, 0},
		{"excluded", cat([]byte{0x23, 2}, id(1), []byte{1, 0, 5}, km, id(2), []byte{0}, e), true, 1, 1},
		{"repeated recipient adds devices", cat([]byte{0x23, 2}, id(1), []byte{1, 0, 5}, km, id(1), []byte{2, 0, 5}, km, e), true, 2, 0},
		{"uuid form", cat([]byte{0x22, 1}, bytes.Repeat([]byte{1}, 16), []byte{1, 0, 5}, km, e), true, 1, 0},
		{"no recipients", cat([]byte{0x23, 0}, e), true, 0, 0},
		{"empty", nil, false, 0, 0},
		{"version 0x11", cat([]byte{0x11, 0}, e), false, 0, 0},
		{"version 0x24", cat([]byte{0x24, 0}, e), false, 0, 0},
		{"no E", cat([]byte{0x23, 1}, id(1), []byte{1, 0, 5}, km, e[:31]), false, 0, 0},
		{"device 128", cat([]byte{0x23, 1}, id(1), []byte{128, 0, 5}, km, e), false, 0, 0},
		{"device 0 after a device", cat([]byte{0x23, 1}, id(1), []byte{1, 0x80, 5, 0}, km, e), false, 0, 0},
		{"service ID kind 2", cat([]byte{0x23, 1}, append([]byte{2}, id(1)[1:]...), []byte{1, 0, 5}, km, e), false, 0, 0},
		{"excluded then included", cat([]byte{0x23, 2}, id(1), []byte{0}, id(1), []byte{1, 0, 5}, km, e), false, 0, 0},
		{"included then excluded", cat([]byte{0x23, 2}, id(1), []byte{1, 0, 5}, km, id(1), []byte{0}, e), false, 0, 0},
		{"count past the end", cat([]byte{0x23, 2}, id(1), []byte{1, 0, 5}, km, e), false, 0, 0},
		{"too many recipients", cat([]byte{0x23, 11}, e), false, 0, 0},
		{"bad varint", cat([]byte{0x23, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, e), false, 0, 0},
	} {
		m, err := ParseSentMessage(tc.b, 10)
		if !tc.ok {
			if !errors.Is(err, errs.InvalidMessage) {
				t.Errorf("%s: %v, want an invalid message", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		n := 0
		for _, r := range m.Recipients {
			n += len(r.Devices)
		}
		if n != tc.devices || len(m.Excluded) != tc.exclude || m.SharedSize() < 32 {
			t.Errorf("%s: %d devices, %d excluded, shared %d", tc.name, n, len(m.Excluded), m.SharedSize())
		}
	}
}

// FuzzParseSentMessage: the parser never panics, fails only with an
// invalid message, and what it accepts splits into ReceivedMessages of the
// documented shape.
func FuzzParseSentMessage(f *testing.F) {
	w := newWorld(f)
	ps := v2Parties(f, 3)
	sent, _ := EncryptMulti(&Content{Type: TypeSenderKey, Sender: w.aliceCert, Message: []byte("m")}, w.alice, multiRecipients(ps[:2]), []serviceid.ID{ps[2].id})
	f.Add(sent)
	f.Add([]byte{0x23, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseSentMessage(b, 1000)
		if err != nil {
			if !errors.Is(err, errs.InvalidMessage) {
				t.Fatalf("error of the wrong kind: %v", err)
			}
			return
		}
		for i := range m.Recipients {
			r := &m.Recipients[i]
			if len(r.Devices) == 0 || len(r.KeyMaterial) != V2KeyMaterialSize {
				t.Fatalf("recipient %d: %d devices, %d bytes of key material", i, len(r.Devices), len(r.KeyMaterial))
			}
			rm := m.Received(r)
			if len(rm) != 1+V2KeyMaterialSize+m.SharedSize() || rm[0] != V2ReceivedVersion {
				t.Fatalf("received message of %d bytes", len(rm))
			}
		}
	})
}

// FuzzOpenV2: opening any bytes as a v2 ReceivedMessage fails cleanly, and
// a genuine message opens only unaltered.
func FuzzOpenV2(f *testing.F) {
	w := newWorld(f)
	ps := v2Parties(f, 1)
	sent, _ := EncryptMulti(&Content{Type: TypeSenderKey, Sender: w.aliceCert, Message: []byte("m")}, w.alice, multiRecipients(ps), nil)
	m, _ := ParseSentMessage(sent, 1)
	rm := m.Received(&m.Recipients[0])
	f.Add(rm)
	f.Add([]byte{0x22})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 0 {
			b[0] = 0x20 | b[0]&0x0f
		}
		c, err := Open(b, ps[0].key)
		if err != nil {
			if !errors.Is(err, errs.InvalidMessage) {
				t.Fatalf("error of the wrong kind: %v", err)
			}
			return
		}
		if !bytes.Equal(b[1:], rm[1:]) || c.Sender.UUID() != aliceUUID {
			t.Fatalf("opened bytes that are not the genuine message: %x", b)
		}
	})
}

// TestV2StaticSecret: a message made with the recipients' static secrets
// given is byte for byte the one made without them.
func TestV2StaticSecret(t *testing.T) {
	w := newWorld(t)
	ps := v2Parties(t, 3)
	content := mustBytes(t, &Content{Type: TypeSenderKey, Sender: w.aliceCert, Message: []byte("m")})
	m := newMessageKey()
	plain, err := sealMulti(content, w.alice, multiRecipients(ps), nil, m)
	if err != nil {
		t.Fatal(err)
	}
	to := multiRecipients(ps)
	for i := range to {
		s, err := StaticSecret(w.alice, to[i].IdentityKey)
		if err != nil {
			t.Fatal(err)
		}
		to[i].Static = &s
	}
	cached, err := sealMulti(content, w.alice, to, nil, m)
	if err != nil || !bytes.Equal(plain, cached) {
		t.Fatalf("with static secrets: %v, equal %v", err, bytes.Equal(plain, cached))
	}
}
