package curve

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"testing"
)

// TestX25519MatchesECDH compares the ladder and the fixed-base public keys
// with crypto/ecdh on random keys and random u-coordinates (half of which
// are on the twist).
func TestX25519MatchesECDH(t *testing.T) {
	for range 200 {
		var k, u [32]byte
		rand.Read(k[:])
		rand.Read(u[:])
		u[31] &= 127 // crypto/ecdh refuses nothing, but keep u canonical-ish for its check
		ek, err := ecdh.X25519().NewPrivateKey(k[:])
		if err != nil {
			t.Fatal(err)
		}
		p, _ := ParsePrivateKey(k[:])
		if pub := p.PublicKey(); !bytes.Equal(pub.u[:], ek.PublicKey().Bytes()) {
			t.Fatal("public key differs from crypto/ecdh's")
		}
		peer, err := ecdh.X25519().NewPublicKey(u[:])
		if err != nil {
			t.Fatal(err)
		}
		want, err := ek.ECDH(peer)
		got := x25519(&k, &u)
		if err != nil { // crypto/ecdh refuses the all-zero result
			want = make([]byte, 32)
		}
		if !bytes.Equal(got[:], want) {
			t.Fatal("shared secret differs from crypto/ecdh's")
		}
	}
}

// TestX25519RFC7748 is RFC 7748's iterated test (section 5.2), 1 and 1,000
// iterations.
func TestX25519RFC7748(t *testing.T) {
	k := [32]byte{9}
	u := [32]byte{9}
	for i := 1; i <= 1000; i++ {
		k, u = x25519(&k, &u), k
		var want string
		switch i {
		case 1:
			want = "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"
		case 1000:
			want = "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"
		default:
			continue
		}
		if got := PublicKeyFromU(k).String()[2:]; got != want {
			t.Fatalf("after %d iterations: %s, want %s", i, got, want)
		}
	}
}

func BenchmarkAgree(b *testing.B) {
	kp, other := GenerateKeyPair(), GenerateKeyPair()
	parsed, _ := ParsePrivateKey(kp.Private.Bytes())
	for b.Loop() {
		parsed.Agree(other.Public)
	}
}

func BenchmarkGenerateKeyPair(b *testing.B) {
	for b.Loop() {
		GenerateKeyPair()
	}
}
