package curve

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"

	"github.com/skymsg/sky/internal/testvec"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/wycheproof"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWycheproofX25519(t *testing.T) {
	var file struct {
		Groups []struct {
			Tests []struct {
				wycheproof.Test
				Public  wycheproof.Hex `json:"public"`
				Private wycheproof.Hex `json:"private"`
				Shared  wycheproof.Hex `json:"shared"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	wycheproof.Load(t, "x25519_test.json", &file)
	n, zero := 0, 0
	for _, g := range file.Groups {
		for _, tc := range g.Tests {
			n++
			priv, err := ParsePrivateKey(tc.Private)
			if err != nil {
				t.Fatalf("tc %d: %v", tc.ID, err)
			}
			pub, err := ParsePublicKey(append([]byte{KeyTypeDjb}, tc.Public...))
			if err != nil {
				t.Fatalf("tc %d: %v", tc.ID, err)
			}
			shared, err := priv.Agree(pub)
			if bytes.Equal(tc.Shared, make([]byte, 32)) {
				// libsignal refuses the all-zero output; so must we.
				zero++
				if !errors.Is(err, errs.InvalidKey) {
					t.Errorf("tc %d (%s): all-zero secret not refused: %v", tc.ID, tc.Comment, err)
				}
				continue
			}
			if err != nil || !bytes.Equal(shared[:], tc.Shared) {
				t.Errorf("tc %d (%s): got %x, %v; want %x", tc.ID, tc.Comment, shared, err, tc.Shared)
			}
		}
	}
	if n != 518 || zero == 0 {
		t.Errorf("ran %d vectors (%d all-zero), want 518", n, zero)
	}
}

// TestRFC7748 checks the Diffie-Hellman example of RFC 7748 section 6.1.
func TestRFC7748(t *testing.T) {
	alicePriv, _ := ParsePrivateKey(unhex(t, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
	bobPriv, _ := ParsePrivateKey(unhex(t, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"))
	alicePub := alicePriv.PublicKey()
	bobPub := bobPriv.PublicKey()
	if got := alicePub.U(); hex.EncodeToString(got[:]) != "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a" {
		t.Errorf("Alice's public key = %x", got)
	}
	if got := bobPub.U(); hex.EncodeToString(got[:]) != "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f" {
		t.Errorf("Bob's public key = %x", got)
	}
	const shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
	s1, err1 := alicePriv.Agree(bobPub)
	s2, err2 := bobPriv.Agree(alicePub)
	if err1 != nil || err2 != nil || hex.EncodeToString(s1[:]) != shared || s1 != s2 {
		t.Errorf("shared secrets %x, %x (%v, %v)", s1, s2, err1, err2)
	}
}

type libsignalVectors struct {
	Keys []struct {
		PrivateIn      string `json:"private_in"`
		PrivateClamped string `json:"private_clamped"`
		Public         string `json:"public"`
	} `json:"keys"`
	Verify []struct {
		Name   string `json:"name"`
		Public string `json:"public"`
		Msg    string `json:"msg"`
		Sig    string `json:"sig"`
		Valid  any    `json:"valid"`
	} `json:"verify"`
	Agree []struct {
		Private, Public, Shared string
	} `json:"agree"`
	ClampFF string `json:"clamp_ff"`
}

func loadLibsignal(t *testing.T) libsignalVectors {
	var v libsignalVectors
	testvec.Load(t, "testdata/libsignal_vectors.json", &v)
	return v
}

// TestLibsignalKeys checks clamping and public-key derivation against values
// that libsignal 0.103.0 computed (testdata/libsignal_vectors.json).
func TestLibsignalKeys(t *testing.T) {
	v := loadLibsignal(t)
	for i, k := range v.Keys {
		p, err := ParsePrivateKey(unhex(t, k.PrivateIn))
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(p.Bytes()); got != k.PrivateClamped {
			t.Errorf("key %d: clamped = %s, libsignal %s", i, got, k.PrivateClamped)
		}
		if got := hex.EncodeToString(p.PublicKey().Bytes()); got != k.Public {
			t.Errorf("key %d: public = %s, libsignal %s", i, got, k.Public)
		}
	}
	ff, _ := ParsePrivateKey(bytes.Repeat([]byte{0xff}, 32))
	if got := hex.EncodeToString(ff.Bytes()); got != v.ClampFF {
		t.Errorf("ff..ff clamps to %s, libsignal %s", got, v.ClampFF)
	}
}

// TestLibsignalVerify checks that Verify gives libsignal's verdict on its own
// signatures and on altered ones: non-reduced s, flipped sign bit, bit 255 of
// the key set, u = -1, wrong lengths.
func TestLibsignalVerify(t *testing.T) {
	v := loadLibsignal(t)
	names := map[string]bool{}
	for _, tc := range v.Verify {
		want, ok := tc.Valid.(bool)
		if !ok {
			t.Fatalf("%s: libsignal verdict %v", tc.Name, tc.Valid)
		}
		pub, err := ParsePublicKey(unhex(t, tc.Public))
		if err != nil {
			t.Fatalf("%s: %v", tc.Name, err)
		}
		if got := pub.Verify(unhex(t, tc.Sig), unhex(t, tc.Msg)); got != want {
			t.Errorf("%s: Verify = %v, libsignal says %v", tc.Name, got, want)
		}
		names[tc.Name] = true
	}
	for _, n := range []string{"libsignal signature", "s + L (not reduced)", "sign bit flipped", "public key with bit 255 set", "public key u = -1"} {
		if !names[n] {
			t.Errorf("vector file lacks case %q", n)
		}
	}
}

func TestLibsignalAgree(t *testing.T) {
	v := loadLibsignal(t)
	for i, tc := range v.Agree {
		priv, _ := ParsePrivateKey(unhex(t, tc.Private))
		pub, err := ParsePublicKey(unhex(t, tc.Public))
		if err != nil {
			t.Fatal(err)
		}
		s, err := priv.Agree(pub)
		if tc.Shared == "error" {
			if err == nil {
				t.Errorf("agree %d: libsignal refuses, we gave %x", i, s)
			}
			continue
		}
		if err != nil || hex.EncodeToString(s[:]) != tc.Shared {
			t.Errorf("agree %d: %x %v, libsignal %s", i, s, err, tc.Shared)
		}
	}
}

func TestSignVerify(t *testing.T) {
	kp := GenerateKeyPair()
	msg := []byte("a prekey")
	sig := kp.Private.Sign(msg)
	if !kp.Public.Verify(sig[:], msg) {
		t.Fatal("own signature rejected")
	}
	if !kp.Public.Verify(sig[:], msg[:2], msg[2:]) {
		t.Error("signature over split message rejected")
	}
	sig2 := kp.Private.Sign(msg)
	if sig == sig2 {
		t.Error("two signatures of one message are equal; the nonce is not randomized")
	}
	for i := range sig {
		bad := sig
		bad[i] ^= 0x01
		if kp.Public.Verify(bad[:], msg) {
			t.Errorf("signature with byte %d altered accepted", i)
		}
	}
	other := GenerateKeyPair()
	if other.Public.Verify(sig[:], msg) {
		t.Error("signature accepted under another key")
	}
	// A parsed copy agrees like the original.
	parsedA, _ := ParsePrivateKey(kp.Private.Bytes())
	other2 := GenerateKeyPair()
	s1, _ := kp.Private.Agree(other2.Public)
	s2, _ := parsedA.Agree(other2.Public)
	if s1 != s2 {
		t.Error("parsed keys agree differently")
	}
	// A parsed copy of the private key signs the same.
	parsed, _ := ParsePrivateKey(kp.Private.Bytes())
	var z [64]byte
	if parsed.signWithRandom(z, msg) != kp.Private.signWithRandom(z, msg) {
		t.Error("parsed key signs differently")
	}
}

// TestSignBothSigns makes sure keys whose Edwards form has either sign of x
// sign correctly; the sign bit must travel in the signature.
func TestSignBothSigns(t *testing.T) {
	seen := [2]bool{}
	for i := 0; i < 64 && !(seen[0] && seen[1]); i++ {
		kp := GenerateKeyPair()
		a, _ := edwards25519.NewScalar().SetBytesWithClamping(kp.Private.k[:])
		sign := new(edwards25519.Point).ScalarBaseMult(a).Bytes()[31] >> 7
		seen[sign] = true
		sig := kp.Private.Sign([]byte{byte(i)})
		if sig[63]>>7 != sign {
			t.Fatalf("sign bit %d not carried", sign)
		}
		if !kp.Public.Verify(sig[:], []byte{byte(i)}) {
			t.Fatalf("signature with sign %d rejected", sign)
		}
	}
	if !seen[0] || !seen[1] {
		t.Fatal("did not meet both signs")
	}
}

func TestParsePublicKey(t *testing.T) {
	kp := GenerateKeyPair()
	good := kp.Public.Bytes()
	if len(good) != 33 || good[0] != 5 {
		t.Fatalf("serialized form %x", good)
	}
	k, err := ParsePublicKey(good)
	if err != nil || k != kp.Public {
		t.Fatalf("round trip: %v", err)
	}
	bad := map[string][]byte{
		"empty":          nil,
		"type only":      {5},
		"32 bytes":       good[:32],
		"34 bytes":       append(append([]byte{}, good...), 0),
		"type 0x08":      append([]byte{8}, good[1:]...),
		"type 0x00":      append([]byte{0}, good[1:]...),
		"raw 32-byte u":  good[1:],
		"Kyber key size": make([]byte, 1569),
	}
	for name, b := range bad {
		if _, err := ParsePublicKey(b); !errors.Is(err, errs.InvalidKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, n := range []int{0, 31, 33} {
		if _, err := ParsePrivateKey(make([]byte, n)); !errors.Is(err, errs.InvalidKey) {
			t.Errorf("private key of %d bytes: %v", n, err)
		}
	}
}

// montgomeryU returns the u-coordinate (1+y)/(1-y) of an Edwards point.
func montgomeryU(t *testing.T, p *edwards25519.Point) [32]byte {
	b := p.Bytes()
	b[31] &= 0x7F
	y, err := new(field.Element).SetBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	one := new(field.Element).One()
	num := new(field.Element).Add(one, y)
	den := new(field.Element).Subtract(one, y)
	u := new(field.Element).Multiply(num, den.Invert(den))
	return [32]byte(u.Bytes())
}

func leInt(t *testing.T, hexBE string) [32]byte {
	b := unhex(t, hexBE)
	var out [32]byte
	for i := range b {
		out[i] = b[len(b)-1-i]
	}
	return out
}

// TestIsCanonical is acceptance test 5 for base keys: keys with the high bit
// set, with a torsion component, of low order, at or above p, or on the
// twist are refused; honest keys pass.
func TestIsCanonical(t *testing.T) {
	for i := 0; i < 20; i++ {
		if k := GenerateKeyPair().Public; !k.IsCanonical() {
			t.Fatalf("generated key %s not canonical", k)
		}
	}
	kp := GenerateKeyPair()
	P, ok := edwardsFromMontgomery(kp.Public.u, 0)
	if !ok {
		t.Fatal("no Edwards point")
	}
	// Points of order 2 and 4 (0, -1) and (sqrt(-1), 0)... built from encodings.
	order2, _ := new(edwards25519.Point).SetBytes(unhex(t, "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"))
	order8, err := new(edwards25519.Point).SetBytes(unhex(t, "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"))
	if err != nil {
		t.Fatal(err)
	}
	withTorsion2 := montgomeryU(t, new(edwards25519.Point).Add(P, order2))
	withTorsion8 := montgomeryU(t, new(edwards25519.Point).Add(P, order8))
	highBit := kp.Public.u
	highBit[31] |= 0x80
	pMinus1 := leInt(t, "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffec")
	pItself := leInt(t, "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffed")
	pPlus1 := leInt(t, "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffee")
	top := leInt(t, "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")
	// u = 2 is on the twist: 2^3 + 486662*2^2 + 2 is not a square mod p.
	twist := [32]byte{2}
	// Low-order u values (the Montgomery images of the 8-torsion).
	order8a := leInt(t, "00b8495f16056286fdb1329ceb8d09da6ac49ff1fae35616aeb8413b7c7aebe0")
	order8b := leInt(t, "57119fd0dd4e22d8868e1c58c45c44045bef839c55b1d0b1248c50a3bc959c5f")
	cases := map[string][32]byte{
		"u = 0":                {},
		"u = 1":                {1},
		"u = p - 1 (-1)":       pMinus1,
		"u = p":                pItself,
		"u = p + 1":            pPlus1,
		"u = 2^255 - 1":        top,
		"bit 255 set":          highBit,
		"order-2 torsion":      withTorsion2,
		"order-8 torsion":      withTorsion8,
		"on the twist":         twist,
		"low order (8) u":      order8a,
		"low order (8) u, neg": order8b,
	}
	for name, u := range cases {
		if PublicKeyFromU(u).IsCanonical() {
			t.Errorf("%s: accepted as canonical", name)
		}
	}
	for _, name := range []string{"u = 0", "u = 1", "low order (8) u", "low order (8) u, neg"} {
		if _, err := GenerateKeyPair().Private.Agree(PublicKeyFromU(cases[name])); !errors.Is(err, errs.InvalidKey) {
			t.Errorf("%s: agreement not refused (%v); not a low-order point?", name, err)
		}
	}
	// The torsion cases still agree with honest keys to a non-zero secret, which
	// is why the explicit canonical check is needed.
	if _, err := GenerateKeyPair().Private.Agree(PublicKeyFromU(withTorsion8)); err != nil {
		t.Errorf("agreement with a torsioned key failed (%v); test premise wrong", err)
	}
}

func TestSecretsRedacted(t *testing.T) {
	kp := GenerateKeyPair()
	secretHex := hex.EncodeToString(kp.Private.k[:])
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q"} {
		for _, v := range []any{kp.Private, &kp.Private, kp, &kp, []any{kp}} {
			got := fmt.Sprintf(verb, v)
			if strings.Contains(strings.ToLower(got), secretHex) || strings.Contains(got, string(kp.Private.k[:8])) {
				t.Errorf("Sprintf(%s, %T) leaks the private key: %s", verb, v, got)
			}
			if !strings.Contains(got, "redacted") {
				t.Errorf("Sprintf(%s, %T) = %q, want a redaction marker", verb, v, got)
			}
		}
	}
}
