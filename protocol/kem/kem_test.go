package kem

import (
	"bytes"
	"crypto/mlkem"
	"crypto/mlkem/mlkemtest"
	"crypto/sha256"
	"crypto/sha3"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/skymsg/sky/internal/testvec"
	"github.com/skymsg/sky/protocol/internal/errs"
)

type vectors struct {
	KAT []struct {
		Count    int    `json:"count"`
		PK       string `json:"pk"`
		SKSHA256 string `json:"sk_sha256"`
		M        string `json:"encaps_random"`
		CT       string `json:"ct"`
		SS       string `json:"ss"`
	} `json:"kat"`
	Decaps []struct {
		Seed string `json:"fips203_seed"`
		CT   string `json:"ct"`
		SS   string `json:"ss"`
	} `json:"decaps"`
}

func load(t *testing.T) vectors {
	var v vectors
	testvec.Load(t, "testdata/kyber1024_round3.json", &v)
	if len(v.KAT) != 5 || len(v.Decaps) != 3 {
		t.Fatalf("vector file has %d KAT and %d decaps entries", len(v.KAT), len(v.Decaps))
	}
	return v
}

func unhex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRound3KATEncapsulation checks the round-3 conversion against the
// NIST round-3 Kyber1024 known answers: with the KAT's encapsulation
// randomness (hashed first, as round 3 does) crypto/mlkem produces the KAT
// ciphertext, and finish turns its key into the KAT shared secret.
func TestRound3KATEncapsulation(t *testing.T) {
	for _, v := range load(t).KAT {
		pk, err := ParsePublicKey(append([]byte{TypeKyber1024}, unhex(t, v.PK)...))
		if err != nil {
			t.Fatalf("count %d: %v", v.Count, err)
		}
		m := sha3.Sum256(unhex(t, v.M))
		ek, err := pk.key()
		if err != nil {
			t.Fatal(err)
		}
		key, ct, err := mlkemtest.Encapsulate1024(ek, m[:])
		if err != nil {
			t.Fatal(err)
		}
		ss, sct := finish(key, ct)
		if !bytes.Equal(sct[1:], unhex(t, v.CT)) || sct[0] != TypeKyber1024 {
			t.Errorf("count %d: ciphertext differs from the KAT", v.Count)
		}
		if hex.EncodeToString(ss[:]) != v.SS {
			t.Errorf("count %d: shared secret %x, KAT %s", v.Count, ss, v.SS)
		}
		if hex.EncodeToString(key) == v.SS {
			t.Errorf("count %d: the unconverted ML-KEM key equals the KAT secret; test is vacuous", v.Count)
		}
	}
}

// TestRound3Decapsulation decapsulates ciphertexts that circl's round-3
// Kyber1024 made for keys crypto/mlkem derives from fixed seeds.
func TestRound3Decapsulation(t *testing.T) {
	for i, v := range load(t).Decaps {
		sk, err := ParseSecretKey(append([]byte{TypeKyber1024}, unhex(t, v.Seed)...))
		if err != nil {
			t.Fatal(err)
		}
		ss, err := sk.Decapsulate(append([]byte{TypeKyber1024}, unhex(t, v.CT)...))
		if err != nil || hex.EncodeToString(ss[:]) != v.SS {
			t.Errorf("entry %d: decapsulated %x (%v), want %s", i, ss, err, v.SS)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	kp := GenerateKeyPair()
	if n := len(kp.Public.Bytes()); n != 1569 || kp.Public.Bytes()[0] != 0x08 {
		t.Fatalf("public key is %d bytes, type %x", n, kp.Public.Bytes()[0])
	}
	pk, err := ParsePublicKey(kp.Public.Bytes())
	if err != nil || !pk.Equal(kp.Public) {
		t.Fatalf("parse: %v", err)
	}
	ss, ct, err := pk.Encapsulate()
	if err != nil || len(ct) != 1569 || ct[0] != 0x08 {
		t.Fatalf("ciphertext is %d bytes", len(ct))
	}
	sk, err := ParseSecretKey(kp.Secret.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	got, err := sk.Decapsulate(ct)
	if err != nil || got != ss {
		t.Fatalf("decapsulated a different secret (%v)", err)
	}
	// A flipped ciphertext bit gives a different secret (implicit rejection).
	ct[100] ^= 1
	if bad, err := sk.Decapsulate(ct); err != nil || bad == ss {
		t.Fatalf("altered ciphertext: %v, same secret %v", err, bad == ss)
	}
}

func TestParseRejects(t *testing.T) {
	good := GenerateKeyPair().Public.Bytes()
	mlkem1024 := append([]byte{0x0A}, good[1:]...)
	outOfRange := append([]byte{TypeKyber1024}, bytes.Repeat([]byte{0xff}, 1568)...)
	cases := map[string][]byte{
		"empty":                 nil,
		"ML-KEM-1024 type 0x0A": mlkem1024,
		"Kyber768 type 0x07":    append([]byte{0x07}, good[1:]...),
		"Curve25519 type 0x05":  append([]byte{0x05}, good[1:]...),
		"one byte short":        good[:1568],
		"one byte long":         append(append([]byte{}, good...), 0),
		"no type byte":          good[1:],
		"EC key":                append([]byte{5}, make([]byte, 32)...),
	}
	for name, b := range cases {
		if _, err := ParsePublicKey(b); !errors.Is(err, errs.InvalidKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Out-of-range coefficients pass parsing (so signatures are checked
	// first, as in libsignal) but not Validate or Encapsulate.
	pk, err := ParsePublicKey(outOfRange)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if err := pk.Validate(); !errors.Is(err, errs.InvalidKey) {
		t.Errorf("Validate of out-of-range key: %v", err)
	}
	if _, _, err := pk.Encapsulate(); !errors.Is(err, errs.InvalidKey) {
		t.Errorf("Encapsulate to out-of-range key: %v", err)
	}
	sk := GenerateKeyPair().Secret
	_, ct, _ := GenerateKeyPair().Public.Encapsulate()
	for name, c := range map[string][]byte{
		"empty": nil, "short": ct[:1568], "long": append(append([]byte{}, ct...), 0),
		"type 0x0A": append([]byte{0x0A}, ct[1:]...),
	} {
		if _, err := sk.Decapsulate(c); !errors.Is(err, errs.InvalidMessage) {
			t.Errorf("ciphertext %s: %v", name, err)
		}
	}
	for _, n := range []int{0, 64, 66, 3169} {
		if _, err := ParseSecretKey(make([]byte, n)); !errors.Is(err, errs.InvalidKey) {
			t.Errorf("secret key of %d bytes: %v", n, err)
		}
	}
}

// TestSeedFormMatchesFIPS203 pins the secret-key form: type byte then the
// crypto/mlkem seed.
func TestSeedFormMatchesFIPS203(t *testing.T) {
	seed := sha256.Sum256([]byte("seed"))
	full := append(seed[:], seed[:]...)
	sk, err := ParseSecretKey(append([]byte{TypeKyber1024}, full...))
	if err != nil {
		t.Fatal(err)
	}
	dk, _ := mlkem.NewDecapsulationKey1024(full)
	if !bytes.Equal(sk.PublicKey().Bytes()[1:], dk.EncapsulationKey().Bytes()) {
		t.Fatal("public key differs from crypto/mlkem's")
	}
	if !bytes.Equal(sk.Bytes(), append([]byte{TypeKyber1024}, full...)) {
		t.Fatal("serialized secret key differs")
	}
}

func TestSecretRedacted(t *testing.T) {
	kp := GenerateKeyPair()
	seed := hex.EncodeToString(kp.Secret.Bytes()[1:9])
	type holder struct{ Secret SecretKey } // held by value
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q", "%d"} {
		for _, v := range []any{kp.Secret, *kp.Secret, kp, &kp, holder{*kp.Secret}} {
			got := fmt.Sprintf(verb, v)
			if strings.Contains(got, seed) || !strings.Contains(got, "redacted") {
				t.Errorf("Sprintf(%s, %T) = %.80q", verb, v, got)
			}
		}
	}
}

func FuzzParsePublicKey(f *testing.F) {
	f.Add(GenerateKeyPair().Public.Bytes())
	f.Add([]byte{0x08})
	f.Add(append([]byte{0x0A}, make([]byte, 1568)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParsePublicKey(b)
		if err != nil {
			return
		}
		if !bytes.Equal(k.Bytes(), b) {
			t.Fatal("round trip changed the key")
		}
		if _, ct, err := k.Encapsulate(); err == nil && len(ct) != CiphertextSize {
			t.Fatal("short ciphertext")
		}
	})
}

func FuzzDecapsulate(f *testing.F) {
	sk, _ := ParseSecretKey(append([]byte{TypeKyber1024}, make([]byte, 64)...))
	_, ct, _ := sk.PublicKey().Encapsulate()
	f.Add(ct)
	f.Add([]byte{0x08})
	f.Fuzz(func(t *testing.T, c []byte) {
		if _, err := sk.Decapsulate(c); err != nil && (len(c) == CiphertextSize && c[0] == TypeKyber1024) {
			t.Fatalf("well-formed ciphertext refused: %v", err)
		}
	})
}
