package mlkem768

import (
	"bytes"
	"crypto/mlkem"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func randomKey(t testing.TB) *DecapsulationKey {
	seed := make([]byte, SeedSize)
	rand.Read(seed)
	dk, err := NewDecapsulationKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	return dk
}

// TestSplitEncapsulationDecapsulatesWithStdlib encapsulates in two halves to
// keys made by crypto/mlkem and checks that crypto/mlkem decapsulates the
// same shared key; then the reverse direction.
func TestSplitEncapsulationDecapsulatesWithStdlib(t *testing.T) {
	for range 20 {
		std, err := mlkem.GenerateKey768()
		if err != nil {
			t.Fatal(err)
		}
		ek := std.EncapsulationKey().Bytes()
		hdr := headerOf(ek)
		var m [RandomnessSize]byte
		rand.Read(m[:])
		ct1, K := Encapsulate1(&hdr, &m)
		ct2, err := Encapsulate2(&hdr, (*[VectorSize]byte)(ek), &m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := std.Decapsulate(append(ct1[:], ct2[:]...))
		if err != nil || !bytes.Equal(got, K[:]) {
			t.Fatalf("crypto/mlkem decapsulated a different key (err %v)", err)
		}

		// Same seed, same key pair; crypto/mlkem encapsulates, we decapsulate.
		ours, err := NewDecapsulationKey(std.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours.EncapsulationKey(), ek) {
			t.Fatal("key from the same seed differs from crypto/mlkem's")
		}
		if h := ours.Header(); h != hdr {
			t.Fatal("Header() is not ρ ‖ SHA3-256(ek)")
		}
		stdK, c := std.EncapsulationKey().Encapsulate()
		ourK, err := ours.Decapsulate(c)
		if err != nil || !bytes.Equal(ourK[:], stdK) {
			t.Fatalf("decapsulation of a crypto/mlkem ciphertext differs (err %v)", err)
		}
	}
}

// TestEncapsulate2RejectsForeignVector checks that a key vector that does not
// belong to the header is refused, and a single flipped bit of t̂ too.
func TestEncapsulate2RejectsForeignVector(t *testing.T) {
	a, b := randomKey(t), randomKey(t)
	hdr, vb := a.Header(), b.Vector()
	var m [RandomnessSize]byte
	if _, err := Encapsulate2(&hdr, &vb, &m); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("foreign vector: got %v, want ErrInvalidKey", err)
	}
	va := a.Vector()
	va[100] ^= 1
	if _, err := Encapsulate2(&hdr, &va, &m); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("flipped vector: got %v, want ErrInvalidKey", err)
	}
	va[100] ^= 1
	if _, err := Encapsulate2(&hdr, &va, &m); err != nil {
		t.Fatalf("own vector refused: %v", err)
	}
}

// TestWrongSizes checks the length errors of the byte-slice entry points.
func TestWrongSizes(t *testing.T) {
	if _, err := NewDecapsulationKey(make([]byte, 63)); err == nil {
		t.Error("63-byte seed accepted")
	}
	dk := randomKey(t)
	for _, n := range []int{0, 1087, 1089} {
		if _, err := dk.Decapsulate(make([]byte, n)); !errors.Is(err, ErrCiphertextSize) {
			t.Errorf("%d-byte ciphertext: got %v", n, err)
		}
	}
	var m [RandomnessSize]byte
	if _, _, err := Encapsulate(make([]byte, 1183), &m); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("short key: got %v", err)
	}
}

// TestDecapsulationKeyRedacts checks that no fmt verb prints key material.
func TestDecapsulationKeyRedacts(t *testing.T) {
	dk := randomKey(t)
	seed := dk.Seed()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
		for _, arg := range []any{dk, *dk} {
			s := fmt.Sprintf(verb, arg)
			if !strings.Contains(s, "redacted") || strings.Contains(s, fmt.Sprintf("%x", seed[:4])) {
				t.Errorf("%s printed %q", verb, s)
			}
		}
	}
}

func BenchmarkKeyGen(b *testing.B) {
	seed := make([]byte, SeedSize)
	for b.Loop() {
		NewDecapsulationKey(seed)
	}
}

func BenchmarkEncapsulate1(b *testing.B) {
	hdr := randomKey(b).Header()
	var m [RandomnessSize]byte
	for b.Loop() {
		Encapsulate1(&hdr, &m)
	}
}

func BenchmarkEncapsulate2(b *testing.B) {
	dk := randomKey(b)
	hdr, v := dk.Header(), dk.Vector()
	var m [RandomnessSize]byte
	for b.Loop() {
		Encapsulate2(&hdr, &v, &m)
	}
}

func BenchmarkDecapsulate(b *testing.B) {
	dk := randomKey(b)
	var m [RandomnessSize]byte
	_, c, _ := Encapsulate(dk.EncapsulationKey(), &m)
	for b.Loop() {
		dk.Decapsulate(c)
	}
}
