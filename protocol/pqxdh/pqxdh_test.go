package pqxdh

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/kem"
)

type keys struct {
	ikA, ikB      identity.KeyPair
	base, spk, op curve.KeyPair
	kyber         kem.KeyPair
}

func newKeys() keys {
	return keys{identity.Generate(), identity.Generate(), curve.GenerateKeyPair(), curve.GenerateKeyPair(), curve.GenerateKeyPair(), kem.GenerateKeyPair()}
}

func (k keys) run(t *testing.T, oneTime bool) (Secrets, Secrets, []byte) {
	t.Helper()
	in := &Initiator{Identity: k.ikA, BaseKey: k.base, TheirIdentity: k.ikB.Public, TheirSignedPreKey: k.spk.Public, TheirKyberPreKey: k.kyber.Public}
	rc := &Recipient{Identity: k.ikB, SignedPreKey: k.spk, KyberPreKey: k.kyber.Secret, TheirIdentity: k.ikA.Public, TheirBaseKey: k.base.Public}
	if oneTime {
		in.TheirOneTimePreKey = &k.op.Public
		rc.OneTimePreKey = &k.op
	}
	a, ct, err := Initiate(in)
	if err != nil {
		t.Fatal(err)
	}
	rc.KyberCiphertext = ct
	b, err := Accept(rc)
	if err != nil {
		t.Fatal(err)
	}
	return a, b, ct
}

func x25519(t *testing.T, priv curve.PrivateKey, pub curve.PublicKey) []byte {
	p, _ := ecdh.X25519().NewPrivateKey(priv.Bytes())
	u := pub.U()
	q, _ := ecdh.X25519().NewPublicKey(u[:])
	s, err := p.ECDH(q)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAgreementMatchesReference: both sides agree, and the keys equal the
// formula of the interop reference (section 3) computed here with
// crypto/ecdh and crypto/hkdf directly.
func TestAgreementMatchesReference(t *testing.T) {
	for _, oneTime := range []bool{true, false} {
		k := newKeys()
		a, b, ct := k.run(t, oneTime)
		if a != b {
			t.Fatalf("one-time prekey %v: the sides disagree", oneTime)
		}
		if len(ct) != kem.CiphertextSize || ct[0] != kem.TypeKyber1024 {
			t.Fatalf("ciphertext of %d bytes", len(ct))
		}
		ss, err := k.kyber.Secret.Decapsulate(ct)
		if err != nil {
			t.Fatal(err)
		}
		secret := bytes.Repeat([]byte{0xFF}, 32)
		secret = append(secret, x25519(t, k.ikA.Private, k.spk.Public)...)
		secret = append(secret, x25519(t, k.base.Private, k.ikB.Public)...)
		secret = append(secret, x25519(t, k.base.Private, k.spk.Public)...)
		if oneTime {
			secret = append(secret, x25519(t, k.base.Private, k.op.Public)...)
		}
		secret = append(secret, ss[:]...)
		out, _ := hkdf.Key(sha256.New, secret, make([]byte, 32), "WhisperText_X25519_SHA-256_CRYSTALS-KYBER-1024", 96)
		if !bytes.Equal(a.RootKey[:], out[:32]) || !bytes.Equal(a.ChainKey[:], out[32:64]) || !bytes.Equal(a.SPQRKey[:], out[64:]) {
			t.Fatalf("one-time prekey %v: keys differ from the reference formula", oneTime)
		}
	}
}

// TestEveryInputMatters: a different key on either side changes the secrets.
func TestEveryInputMatters(t *testing.T) {
	k := newKeys()
	in := &Initiator{Identity: k.ikA, BaseKey: k.base, TheirIdentity: k.ikB.Public, TheirSignedPreKey: k.spk.Public, TheirOneTimePreKey: &k.op.Public, TheirKyberPreKey: k.kyber.Public}
	a, ct, err := Initiate(in)
	if err != nil {
		t.Fatal(err)
	}
	good := Recipient{Identity: k.ikB, SignedPreKey: k.spk, OneTimePreKey: &k.op, KyberPreKey: k.kyber.Secret, TheirIdentity: k.ikA.Public, TheirBaseKey: k.base.Public, KyberCiphertext: ct}
	other := curve.GenerateKeyPair()
	otherKyber := kem.GenerateKeyPair()
	badCT := bytes.Clone(ct)
	badCT[500] ^= 1
	for name, change := range map[string]func(*Recipient){
		"identity":         func(r *Recipient) { r.Identity = identity.Generate() },
		"signed prekey":    func(r *Recipient) { r.SignedPreKey = other },
		"one-time prekey":  func(r *Recipient) { r.OneTimePreKey = &other },
		"no one-time":      func(r *Recipient) { r.OneTimePreKey = nil },
		"Kyber key":        func(r *Recipient) { r.KyberPreKey = otherKyber.Secret },
		"their identity":   func(r *Recipient) { r.TheirIdentity = other.Public },
		"their base key":   func(r *Recipient) { r.TheirBaseKey = other.Public },
		"Kyber ciphertext": func(r *Recipient) { r.KyberCiphertext = badCT },
	} {
		r := good
		change(&r)
		b, err := Accept(&r)
		if err == nil && b == a {
			t.Errorf("%s changed, secrets still agree", name)
		}
	}
}

func TestRecipientRefusesNonCanonicalBaseKey(t *testing.T) {
	k := newKeys()
	u := k.base.Public.U()
	u[31] |= 0x80 // same X25519 value, but not canonical
	r := &Recipient{Identity: k.ikB, SignedPreKey: k.spk, KyberPreKey: k.kyber.Secret, TheirIdentity: k.ikA.Public,
		TheirBaseKey: curve.PublicKeyFromU(u), KyberCiphertext: make([]byte, kem.CiphertextSize)}
	if _, err := Accept(r); !errors.Is(err, errs.InvalidMessage) {
		t.Fatalf("high-bit base key: %v", err)
	}
	r.TheirBaseKey = curve.PublicKeyFromU([32]byte{})
	if _, err := Accept(r); !errors.Is(err, errs.InvalidMessage) {
		t.Fatalf("zero base key: %v", err)
	}
}

func TestInitiatorRefusesLowOrderKeys(t *testing.T) {
	k := newKeys()
	in := &Initiator{Identity: k.ikA, BaseKey: k.base, TheirIdentity: k.ikB.Public, TheirSignedPreKey: curve.PublicKeyFromU([32]byte{1}), TheirKyberPreKey: k.kyber.Public}
	if _, _, err := Initiate(in); !errors.Is(err, errs.InvalidKey) {
		t.Fatalf("low-order signed prekey: %v", err)
	}
	in.TheirSignedPreKey, in.TheirKyberPreKey = k.spk.Public, nil
	if _, _, err := Initiate(in); !errors.Is(err, errs.InvalidKey) {
		t.Fatalf("no Kyber prekey: %v", err)
	}
}

func TestSecretsRedacted(t *testing.T) {
	a, _, _ := newKeys().run(t, false)
	s := fmt.Sprintf("%v %+v %#v %s %x", a, a, a, a, a)
	if strings.Contains(s, fmt.Sprintf("%x", a.RootKey[:6])) || strings.Count(s, "redacted") != 5 {
		t.Fatalf("secrets printed: %s", s)
	}
}
