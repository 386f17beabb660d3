package vrf

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/skymsg/sky/internal/testvec"
)

type vector struct {
	SK, PK, Alpha, H, Pi, Beta testvec.Hex
}

func loadVectors(t testing.TB) []vector {
	var f struct{ Vectors []vector }
	testvec.Load(t, "testdata/rfc9381-tai.json", &f)
	if len(f.Vectors) != 3 {
		t.Fatalf("%d vectors, want 3", len(f.Vectors))
	}
	return f.Vectors
}

func TestRFC9381Vectors(t *testing.T) {
	for i, v := range loadVectors(t) {
		t.Run(fmt.Sprint(16+i), func(t *testing.T) {
			k, err := NewPrivateKey(v.SK)
			if err != nil {
				t.Fatal(err)
			}
			pk := k.Public()
			if !bytes.Equal(pk[:], v.PK) {
				t.Fatalf("public key %x, want %x", pk, v.PK)
			}
			if h := encodeToCurve(v.PK, v.Alpha).Bytes(); !bytes.Equal(h, v.H) {
				t.Fatalf("H %x, want %x", h, v.H)
			}
			beta, pi := k.Evaluate(v.Alpha)
			if !bytes.Equal(pi[:], v.Pi) {
				t.Fatalf("pi %x, want %x", pi, v.Pi)
			}
			if !bytes.Equal(beta[:], v.Beta) {
				t.Fatalf("beta %x, want %x", beta, v.Beta)
			}
			got, err := pk.Verify(v.Alpha, v.Pi)
			if err != nil || !bytes.Equal(got[:], v.Beta) {
				t.Fatalf("Verify = %x, %v", got, err)
			}
			if h, _ := ProofToHash(v.Pi); !bytes.Equal(h[:], v.Beta) {
				t.Fatalf("ProofToHash = %x", h)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	vs := loadVectors(t)
	v := vs[2]
	var pk, other PublicKey
	copy(pk[:], v.PK)
	copy(other[:], vs[0].PK)
	var identity PublicKey
	identity[0] = 1
	// s = ℓ (not canonical) in place of the proof's s.
	nonCanonicalS := bytes.Clone(v.Pi)
	copy(nonCanonicalS[48:], []byte{0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10})
	// Γ = the identity encoded with y = p + 1 (non-canonical).
	nonCanonicalGamma := bytes.Clone(v.Pi)
	copy(nonCanonicalGamma[:32], []byte{0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	cases := []struct {
		name  string
		pk    PublicKey
		alpha []byte
		pi    []byte
		want  error
	}{
		{"other key", other, v.Alpha, v.Pi, ErrInvalidProof},
		{"other input", pk, []byte{0xaf, 0x83}, v.Pi, ErrInvalidProof},
		{"short proof", pk, v.Alpha, v.Pi[:79], ErrInvalidProof},
		{"long proof", pk, v.Alpha, append(bytes.Clone(v.Pi), 0), ErrInvalidProof},
		{"small-order key", identity, v.Alpha, v.Pi, ErrInvalidKey},
		{"non-canonical s", pk, v.Alpha, nonCanonicalS, ErrInvalidProof},
		{"non-canonical gamma", pk, v.Alpha, nonCanonicalGamma, ErrInvalidProof},
	}
	for i := range ProofSize {
		bad := bytes.Clone(v.Pi)
		bad[i] ^= 1 << (i % 8)
		cases = append(cases, struct {
			name  string
			pk    PublicKey
			alpha []byte
			pi    []byte
			want  error
		}{fmt.Sprintf("bit flipped in byte %d", i), pk, v.Alpha, bad, nil})
	}
	for _, c := range cases {
		_, err := c.pk.Verify(c.alpha, c.pi)
		if err == nil || (c.want != nil && err != c.want) {
			t.Errorf("%s: Verify = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestRoundTripAndRedaction(t *testing.T) {
	k := GenerateKey()
	for _, alpha := range []string{"", "alice", "a much longer account identifier"} {
		beta, pi := k.Evaluate([]byte(alpha))
		got, err := k.Public().Verify([]byte(alpha), pi[:])
		if err != nil || got != beta {
			t.Fatalf("%q: Verify = %x, %v", alpha, got, err)
		}
	}
	k2, _ := NewPrivateKey(k.Bytes())
	if k2.Public() != k.Public() {
		t.Fatal("key does not survive Bytes/NewPrivateKey")
	}
	if s := fmt.Sprintf("%v %x %+v", k, k, k); bytes.Contains([]byte(s), []byte(fmt.Sprintf("%x", k.Bytes()))) {
		t.Fatalf("formatted key shows the seed: %s", s)
	}
	if _, err := NewPrivateKey(make([]byte, 31)); err == nil {
		t.Fatal("31-byte seed accepted")
	}
}

func FuzzVerify(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add([]byte(v.PK), []byte(v.Alpha), []byte(v.Pi))
	}
	k, _ := NewPrivateKey(make([]byte, 32))
	f.Fuzz(func(t *testing.T, pkb, alpha, pi []byte) {
		var pk PublicKey
		copy(pk[:], pkb)
		beta, err := pk.Verify(alpha, pi)
		if err != nil {
			return
		}
		// A proof that verifies gives the same output as ProofToHash.
		if h, _ := ProofToHash(pi); h != beta {
			t.Fatalf("Verify and ProofToHash disagree")
		}
		// Only our key's proofs can verify under our key.
		if pk == k.Public() {
			if want, _ := k.Evaluate(alpha); want != beta {
				t.Fatalf("a forged proof verified")
			}
		}
	})
}

func BenchmarkProve(b *testing.B) {
	k := GenerateKey()
	for b.Loop() {
		k.Prove([]byte("abcdefghijklmnop"))
	}
}

func BenchmarkVerify(b *testing.B) {
	k := GenerateKey()
	pi := k.Prove([]byte("abcdefghijklmnop"))
	pk := k.Public()
	for b.Loop() {
		if _, err := pk.Verify([]byte("abcdefghijklmnop"), pi[:]); err != nil {
			b.Fatal(err)
		}
	}
}
