package sealed

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/pb"
)

// world is a trust root, a server and two devices, Alice (sender) and Bob.
type world struct {
	root       *TrustRoot
	serverKey  curve.KeyPair
	issuer     *Issuer
	alice, bob identity.KeyPair
	aliceCert  *SenderCertificate
	bobR       *Recipient
	now        time.Time
}

const (
	aliceUUID = "aaaaaaaa-0000-4000-8000-000000000001"
	bobUUID   = "bbbbbbbb-0000-4000-8000-000000000002"
)

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{root: GenerateTrustRoot(), serverKey: curve.GenerateKeyPair(), alice: identity.Generate(), bob: identity.Generate()}
	w.now = time.UnixMilli(1_760_000_000_000)
	sc, err := w.root.Certify(1, w.serverKey.Public)
	if err != nil {
		t.Fatal(err)
	}
	if w.issuer, err = NewIssuer(sc, w.serverKey.Private); err != nil {
		t.Fatal(err)
	}
	if w.aliceCert, err = w.issuer.Issue(Sender{UUID: aliceUUID, DeviceID: 2, IdentityKey: w.alice.Public}, w.now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	w.bobR = &Recipient{Identity: w.bob, UUID: bobUUID, DeviceID: 1, TrustRoots: []curve.PublicKey{w.root.Public()}}
	return w
}

func (w *world) seal(t testing.TB, c *Content) []byte {
	t.Helper()
	env, err := Encrypt(c, w.alice, w.bob.Public)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestRoundTrip(t *testing.T) {
	w := newWorld(t)
	for _, c := range testContents(w.aliceCert) {
		env := w.seal(t, c)
		if env[0] != Version {
			t.Fatalf("version byte %#x", env[0])
		}
		got, err := Decrypt(env, w.bobR, w.now)
		if err != nil {
			t.Fatalf("%v: %v", c.Type, err)
		}
		if got.Type != c.Type || got.Hint != c.Hint || !bytes.Equal(got.GroupID, c.GroupID) || !bytes.Equal(got.Message, c.Message) ||
			got.Sender.UUID() != aliceUUID || got.Sender.DeviceID() != 2 || got.Sender.IdentityKey() != w.alice.Public {
			t.Fatalf("%v: decrypted %+v", c.Type, got)
		}
	}
}

// TestSizes pins the envelope overhead: for content of n bytes, a v1
// envelope is 1 + 35 + 45 + n + 10 + the length prefix of field 3.
func TestSizes(t *testing.T) {
	w := newWorld(t)
	c := &Content{Type: TypeWhisper, Sender: w.aliceCert, Message: make([]byte, 100)}
	content, err := c.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	env := w.seal(t, c)
	want := 1 + (2 + 33) + (2 + EncryptedStaticSize) + 1 + protowire.SizeVarint(uint64(len(content)+macSize)) + len(content) + macSize
	if len(env) != want {
		t.Fatalf("envelope of %d bytes for %d bytes of content, want %d", len(env), len(content), want)
	}
	t.Logf("sender certificate %d bytes, content for a 100-byte message %d bytes, envelope %d bytes",
		len(w.aliceCert.Bytes()), len(content), len(env))
}

// TestEveryBitFlipRejected flips each bit of an envelope in turn. Every
// flip is refused as an invalid message, except those that leave a version
// byte libsignal accepts as v1 too (high nibble 0 or 1).
func TestEveryBitFlipRejected(t *testing.T) {
	w := newWorld(t)
	env := w.seal(t, &Content{Type: TypeWhisper, Sender: w.aliceCert, Message: []byte("tamper with me"), GroupID: []byte("group")})
	for i := range env {
		for bit := range 8 {
			bad := bytes.Clone(env)
			bad[i] ^= 1 << bit
			_, err := Open(bad, w.bob)
			if i == 0 && bad[0]>>4 <= 1 {
				if err != nil {
					t.Errorf("version byte %#x refused: %v", bad[0], err)
				}
				continue
			}
			if !errors.Is(err, errs.InvalidMessage) {
				t.Fatalf("byte %d bit %d flipped: %v, want an invalid message", i, bit, err)
			}
		}
	}
	for n := range len(env) {
		if _, err := Open(env[:n], w.bob); !errors.Is(err, errs.InvalidMessage) {
			t.Fatalf("envelope cut to %d bytes: %v", n, err)
		}
	}
	if _, err := Open(env, w.bob); err != nil {
		t.Fatalf("the intact envelope: %v", err)
	}
}

// TestDecryptRefuses lists what Decrypt must refuse, and as what.
func TestDecryptRefuses(t *testing.T) {
	w := newWorld(t)
	msg := []byte("hello")
	issue := func(is *Issuer, s Sender, exp time.Time) *SenderCertificate {
		c, err := is.Issue(s, exp)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	aliceDev := Sender{UUID: aliceUUID, DeviceID: 2, IdentityKey: w.alice.Public}

	otherRoot := GenerateTrustRoot()
	foreignSC, _ := otherRoot.Certify(1, w.serverKey.Public)
	foreign, _ := NewIssuer(foreignSC, w.serverKey.Private)

	revokedSC := newServerCertificate(RevokedKeyID, w.serverKey.Public, w.root.private)
	revoked, _ := NewIssuer(revokedSC, w.serverKey.Private)

	// A sender certificate signed by a key other than its server certificate's.
	rogueKey := curve.GenerateKeyPair()
	rogueCert, err := forgeSenderCertificate(aliceDev, w.now.Add(time.Hour), w.issuer.cert, rogueKey.Private)
	if err != nil {
		t.Fatal(err)
	}

	// A certificate naming its signer by ID (libsignal's built-in
	// certificates), which Sky cannot resolve.
	byID := certWithSignerID(t, aliceDev, w.now.Add(time.Hour), 0x7357C357, w.serverKey.Private)

	sealWith := func(from identity.KeyPair, cert *SenderCertificate) []byte {
		content, err := (&Content{Type: TypeWhisper, Sender: cert, Message: msg}).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		env, err := seal(content, from, w.bob.Public, curve.GenerateKeyPair())
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	mallory := identity.Generate()
	selfCert := issue(w.issuer, Sender{UUID: bobUUID, DeviceID: 1, IdentityKey: w.bob.Public}, w.now.Add(time.Hour))
	otherDevice := issue(w.issuer, Sender{UUID: bobUUID, DeviceID: 3, IdentityKey: w.bob.Public}, w.now.Add(time.Hour))
	good := sealWith(w.alice, w.aliceCert)
	v2 := append([]byte{0x22}, good[1:]...)
	v3 := append([]byte{0x31}, good[1:]...)

	tests := []struct {
		name string
		env  []byte
		at   time.Time
		want error
	}{
		{"another trust root", sealWith(w.alice, issue(foreign, aliceDev, w.now.Add(time.Hour))), w.now, ErrInvalidCertificate},
		{"expired 1 ms ago", sealWith(w.alice, issue(w.issuer, aliceDev, w.now.Add(-time.Millisecond))), w.now, ErrInvalidCertificate},
		{"revoked server key ID", sealWith(w.alice, issue(revoked, aliceDev, w.now.Add(time.Hour))), w.now, ErrInvalidCertificate},
		{"sender certificate not signed by the server key", sealWith(w.alice, rogueCert), w.now, ErrInvalidCertificate},
		{"signer named by ID", sealWith(w.alice, byID), w.now, ErrInvalidCertificate},
		{"sealed by another identity than the certificate's", sealWith(mallory, w.aliceCert), w.now, errs.InvalidMessage},
		{"from this very device", sealWith(w.bob, selfCert), w.now, ErrSelfSend},
		{"for another recipient", func() []byte {
			e, _ := Encrypt(&Content{Type: TypeWhisper, Sender: w.aliceCert, Message: msg}, w.alice, mallory.Public)
			return e
		}(), w.now, errs.InvalidMessage},
		{"sealed sender v2", v2, w.now, errs.InvalidMessage},
		{"unknown version 3", v3, w.now, errs.InvalidMessage},
		{"empty", nil, w.now, errs.InvalidMessage},
		{"version byte only", []byte{Version}, w.now, errs.InvalidMessage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decrypt(tc.env, w.bobR, tc.at)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decrypt: %v, want %v", err, tc.want)
			}
		})
	}

	// The same envelopes that are refused for their certificate open fine
	// for the same device on another device ID, and at the expiry itself.
	if _, err := Decrypt(sealWith(w.bob, otherDevice), w.bobR, w.now); err != nil {
		t.Errorf("a message from another device of the same account: %v", err)
	}
	exp := issue(w.issuer, aliceDev, w.now)
	if _, err := Decrypt(sealWith(w.alice, exp), w.bobR, w.now); err != nil {
		t.Errorf("a certificate at exactly its expiry: %v", err)
	}
	if _, err := Decrypt(sealWith(w.alice, issue(foreign, aliceDev, w.now.Add(time.Hour))),
		&Recipient{Identity: w.bob, UUID: bobUUID, DeviceID: 1, TrustRoots: []curve.PublicKey{w.root.Public(), otherRoot.Public()}}, w.now); err != nil {
		t.Errorf("a certificate under the second of two trust roots: %v", err)
	}
	if _, err := Decrypt(good, &Recipient{Identity: w.bob, UUID: bobUUID, DeviceID: 1}, w.now); !errors.Is(err, ErrInvalidCertificate) {
		t.Errorf("no trust roots: %v", err)
	}
}

// forgeSenderCertificate signs a certificate that embeds signer with a key
// that is not signer's (NewSenderCertificate refuses to).
func forgeSenderCertificate(s Sender, exp time.Time, signer *ServerCertificate, key curve.PrivateKey) (*SenderCertificate, error) {
	real := signer.key
	signer.key = key.PublicKey()
	defer func() { signer.key = real }()
	return NewSenderCertificate(s, exp, signer, key)
}

// certWithSignerID builds a certificate whose signer is field 8, an ID.
func certWithSignerID(t testing.TB, s Sender, exp time.Time, id uint32, key curve.PrivateKey) *SenderCertificate {
	t.Helper()
	cert := pb.AppendUint64(nil, 2, uint64(s.DeviceID))
	cert = protowire.AppendTag(cert, 3, protowire.Fixed64Type)
	cert = protowire.AppendFixed64(cert, uint64(exp.UnixMilli()))
	cert = pb.AppendBytes(cert, 4, s.IdentityKey.Bytes())
	cert = pb.AppendBytes(cert, 6, []byte(s.UUID))
	cert = pb.AppendUint64(cert, 8, uint64(id))
	sig := key.Sign(cert)
	c, err := ParseSenderCertificate(signedEnvelope(cert, sig[:]))
	if err != nil {
		t.Fatal(err)
	}
	if c.Signer() != nil || c.SignerID() != id {
		t.Fatalf("signer %v, ID %#x", c.Signer(), c.SignerID())
	}
	return c
}

func TestEncryptRefusesAnotherDevicesCertificate(t *testing.T) {
	w := newWorld(t)
	_, err := Encrypt(&Content{Type: TypeWhisper, Sender: w.aliceCert, Message: []byte("x")}, w.bob, w.alice.Public)
	if !errors.Is(err, errs.InvalidKey) {
		t.Fatalf("Encrypt with Bob's identity and Alice's certificate: %v", err)
	}
	_, err = Encrypt(&Content{Type: 5, Sender: w.aliceCert, Message: []byte("x")}, w.alice, w.bob.Public)
	if !errors.Is(err, errs.InvalidMessage) {
		t.Fatalf("Encrypt of message type 5: %v", err)
	}
}

func TestIssuerChecks(t *testing.T) {
	w := newWorld(t)
	if _, err := NewIssuer(w.issuer.cert, curve.GenerateKeyPair().Private); !errors.Is(err, errs.InvalidKey) {
		t.Errorf("NewIssuer with a key that is not the certificate's: %v", err)
	}
	if _, err := w.root.Certify(RevokedKeyID, w.serverKey.Public); !errors.Is(err, errs.InvalidKey) {
		t.Errorf("Certify with the revoked ID: %v", err)
	}
	for _, s := range []Sender{
		{UUID: "", DeviceID: 1, IdentityKey: w.alice.Public},
		{UUID: aliceUUID, DeviceID: 0, IdentityKey: w.alice.Public},
		{UUID: aliceUUID, DeviceID: 128, IdentityKey: w.alice.Public},
		{UUID: aliceUUID, DeviceID: 1},
		{UUID: "\xff", DeviceID: 1, IdentityKey: w.alice.Public},
	} {
		if _, err := w.issuer.Issue(s, w.now); !errors.Is(err, errs.InvalidKey) {
			t.Errorf("Issue(%+v): %v", s, err)
		}
	}
	if _, err := w.issuer.Issue(Sender{UUID: aliceUUID, DeviceID: 1, IdentityKey: w.alice.Public}, time.UnixMilli(-1)); err == nil {
		t.Error("Issue with an expiry before 1970 succeeded")
	}
	c, err := w.issuer.Issue(Sender{UUID: aliceUUID, E164: "+15550001", DeviceID: 127, IdentityKey: w.alice.Public}, w.now)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseSenderCertificate(c.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := parsed.E164(); !ok || e != "+15550001" || parsed.DeviceID() != 127 || !parsed.Expires().Equal(w.now) {
		t.Errorf("parsed certificate: %q %v device %d expires %v", e, ok, parsed.DeviceID(), parsed.Expires())
	}
	if w.issuer.ServerCertificate() != w.issuer.cert {
		t.Error("ServerCertificate() is not the issuer's certificate")
	}
	rt, err := ParseTrustRoot(must(w.root.MarshalBinary()))
	if err != nil || rt.Public() != w.root.Public() {
		t.Errorf("trust root round trip: %v", err)
	}
	if _, err := ParseTrustRoot(make([]byte, 31)); !errors.Is(err, errs.InvalidKey) {
		t.Errorf("ParseTrustRoot of 31 bytes: %v", err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestSecretsRedacted formats the secret-holding types under every verb.
func TestSecretsRedacted(t *testing.T) {
	w := newWorld(t)
	type holder struct { // held by value
		R TrustRoot
		I Issuer
	}
	secrets := map[string]any{"TrustRoot": w.root, "Issuer": w.issuer, "TrustRoot value": *w.root, "Issuer value": *w.issuer,
		"holder": holder{*w.root, *w.issuer}}
	hidden := [][]byte{w.root.private.Bytes(), w.serverKey.Private.Bytes()}
	for name, v := range secrets {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
			out := fmt.Sprintf(verb, v)
			if !strings.Contains(out, "redacted") {
				t.Errorf("%s under %s: %q does not say redacted", name, verb, out)
			}
			for _, h := range hidden {
				for _, enc := range []string{fmt.Sprintf("%x", h), fmt.Sprintf("%X", h), string(h), fmt.Sprint(h)} {
					if strings.Contains(out, enc) {
						t.Errorf("%s under %s leaks a private key: %q", name, verb, out)
					}
				}
			}
		}
	}
	if !strings.Contains(fmt.Sprint(w.root), w.root.Public().String()) {
		t.Error("the trust root's public key is not shown")
	}
}

// TestParseRefuses feeds malformed certificates and contents to the parsers.
func TestParseRefuses(t *testing.T) {
	w := newWorld(t)
	sc := w.issuer.cert
	cert := w.aliceCert
	env := func(inner []byte) []byte { return signedEnvelope(inner, make([]byte, 64)) }
	senderInner := func(drop protowire.Number) []byte {
		var b []byte
		if drop != 2 {
			b = pb.AppendUint64(b, 2, 1)
		}
		if drop != 3 {
			b = protowire.AppendTag(b, 3, protowire.Fixed64Type)
			b = protowire.AppendFixed64(b, 5)
		}
		if drop != 4 {
			b = pb.AppendBytes(b, 4, w.alice.Public.Bytes())
		}
		if drop != 5 {
			b = pb.AppendBytes(b, 5, sc.Bytes())
		}
		if drop != 6 {
			b = pb.AppendBytes(b, 6, []byte(aliceUUID))
		}
		return b
	}
	if _, err := ParseSenderCertificate(env(senderInner(0))); err != nil {
		t.Fatalf("the complete certificate: %v", err)
	}
	certCases := map[string][]byte{
		"empty":                   nil,
		"no signature":            pb.AppendBytes(nil, 1, senderInner(0)),
		"no certificate":          pb.AppendBytes(nil, 2, make([]byte, 64)),
		"no device":               env(senderInner(2)),
		"no expiry":               env(senderInner(3)),
		"no identity key":         env(senderInner(4)),
		"no signer":               env(senderInner(5)),
		"no UUID":                 env(senderInner(6)),
		"device 0":                env(append(senderInner(0), pb.AppendUint64(nil, 2, 0)...)),
		"device 128":              env(append(senderInner(0), pb.AppendUint64(nil, 2, 128)...)),
		"UUID bytes of 15":        env(append(senderInner(0), pb.AppendBytes(nil, 7, make([]byte, 15))...)),
		"UUID not UTF-8":          env(append(senderInner(0), pb.AppendBytes(nil, 6, []byte{0xff})...)),
		"E164 not UTF-8":          env(append(senderInner(0), pb.AppendBytes(nil, 1, []byte{0xc3})...)),
		"expiry as a varint":      env(append(senderInner(0), pb.AppendUint64(nil, 3, 5)...)),
		"identity key of 32":      env(append(senderInner(0), pb.AppendBytes(nil, 4, make([]byte, 32))...)),
		"bad server certificate":  env(append(senderInner(0), pb.AppendBytes(nil, 5, []byte{1, 2, 3})...)),
		"truncated":               cert.Bytes()[:len(cert.Bytes())-1],
		"truncated inner field":   env(senderInner(0)[:len(senderInner(0))-1]),
		"bad tag":                 env([]byte{0x80}),
		"wire type of field 1":    pb.AppendUint64(nil, 1, 1),
		"unknown field truncated": env(append(senderInner(0), 0x4a, 0x05, 0x01)),
	}
	for name, b := range certCases {
		if _, err := ParseSenderCertificate(b); !errors.Is(err, ErrInvalidCertificate) {
			t.Errorf("sender certificate %s: %v", name, err)
		}
	}
	// Unknown fields are skipped, a later signer or UUID replaces an
	// earlier one, and UUID bytes read as the hyphenated string.
	extra := append(senderInner(0), pb.AppendUint64(nil, 15, 9)...)
	extra = append(extra, pb.AppendBytes(nil, 7, []byte{0xaa, 0xaa, 0xaa, 0xaa, 0xbb, 0xbb, 0x4c, 0xcc, 0x8d, 0xdd, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee})...)
	c, err := ParseSenderCertificate(env(extra))
	if err != nil || c.UUID() != "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee" {
		t.Errorf("UUID bytes after the string: %v %q", err, c.UUID())
	}

	serverCases := map[string][]byte{
		"no key":       env(pb.AppendUint64(nil, 1, 1)),
		"no ID":        env(pb.AppendBytes(nil, 2, w.serverKey.Public.Bytes())),
		"key type 6":   env(pb.AppendBytes(pb.AppendUint64(nil, 1, 1), 2, append([]byte{6}, make([]byte, 32)...))),
		"ID of 2^32":   env(pb.AppendBytes(pb.AppendUint64(nil, 1, 1<<32), 2, w.serverKey.Public.Bytes())),
		"key as int":   env(pb.AppendUint64(pb.AppendUint64(nil, 1, 1), 2, 5)),
		"empty":        nil,
		"bad envelope": {0x0a, 0x05},
	}
	for name, b := range serverCases {
		if _, err := ParseServerCertificate(b); !errors.Is(err, ErrInvalidCertificate) {
			t.Errorf("server certificate %s: %v", name, err)
		}
	}

	content := func(typ uint64, certBytes []byte, withMsg bool) []byte {
		b := pb.AppendUint64(nil, 1, typ)
		if certBytes != nil {
			b = pb.AppendBytes(b, 2, certBytes)
		}
		if withMsg {
			b = pb.AppendBytes(b, 3, []byte("m"))
		}
		return b
	}
	if _, err := ParseContent(content(2, cert.Bytes(), true)); err != nil {
		t.Fatalf("a complete content: %v", err)
	}
	contentCases := map[string][]byte{
		"type 3 (PreKey is 1 here)": content(3, cert.Bytes(), true),
		"type 0":                    content(0, cert.Bytes(), true),
		"no certificate":            content(2, nil, true),
		"no message":                content(2, cert.Bytes(), false),
		"no type":                   pb.AppendBytes(pb.AppendBytes(nil, 2, cert.Bytes()), 3, []byte("m")),
		"bad certificate":           content(2, []byte{1}, true),
		"hint as bytes":             append(content(2, cert.Bytes(), true), pb.AppendBytes(nil, 4, nil)...),
		"empty":                     nil,
	}
	for name, b := range contentCases {
		if _, err := ParseContent(b); !errors.Is(err, errs.InvalidMessage) {
			t.Errorf("content %s: %v", name, err)
		}
	}
	if _, err := (&Content{Type: TypeWhisper, Message: []byte("m")}).Bytes(); !errors.Is(err, errs.InvalidMessage) {
		t.Errorf("a content without certificate encoded: %v", err)
	}
}

// TestMessageTypeNames keeps the types printable for logs and errors.
func TestMessageTypeNames(t *testing.T) {
	for typ, want := range map[MessageType]string{TypeWhisper: "whisper", TypePreKey: "prekey", TypeSenderKey: "senderkey", TypePlaintext: "plaintext", 5: "MessageType(5)"} {
		if typ.String() != want {
			t.Errorf("%d: %q", typ, typ.String())
		}
	}
}

// BenchmarkSealedRoundTrip100 seals and opens (with certificate validation)
// a content carrying a 100-byte inner message.
func BenchmarkSealedRoundTrip100(b *testing.B) {
	w := newWorld(b)
	c := &Content{Type: TypeWhisper, Sender: w.aliceCert, Message: make([]byte, 100)}
	b.ReportAllocs()
	for b.Loop() {
		env, err := Encrypt(c, w.alice, w.bob.Public)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Decrypt(env, w.bobR, w.now); err != nil {
			b.Fatal(err)
		}
	}
}
