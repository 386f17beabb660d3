package wire

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"testing"
)

func TestSealedSizes(t *testing.T) {
	if SealedSizes[len(SealedSizes)-1] != MaxMessageBytes {
		t.Fatalf("the largest sealed size %d is not MaxMessageBytes", SealedSizes[len(SealedSizes)-1])
	}
	for _, tc := range []struct {
		n, want int
		ok      bool
	}{
		{1, 1024, true}, {1024, 1024, true}, {1025, 4096, true}, {4096, 4096, true},
		{100000, 256 << 10, true}, {256 << 10, 256 << 10, true}, {256<<10 + 1, 0, false},
	} {
		got, ok := SealedSize(tc.n)
		if got != tc.want || ok != tc.ok {
			t.Errorf("SealedSize(%d) = %d, %v; want %d, %v", tc.n, got, ok, tc.want, tc.ok)
		}
		if ok && !IsSealedSize(got) {
			t.Errorf("IsSealedSize(%d) = false", got)
		}
	}
	for _, n := range []int{0, 1, 1023, 1025, 300000} {
		if IsSealedSize(n) {
			t.Errorf("IsSealedSize(%d) = true", n)
		}
	}
}

func TestDeliveryVerifier(t *testing.T) {
	token := bytes.Repeat([]byte{7}, DeliveryTokenBytes)
	// The documented formula, spelled out.
	h := sha256.New()
	h.Write([]byte("sky/v1 delivery token\x00"))
	h.Write(binary.BigEndian.AppendUint32(nil, 10))
	h.Write([]byte("abcdefghjk"))
	h.Write(token)
	if got := DeliveryVerifier("abcdefghjk", token); !bytes.Equal(got, h.Sum(nil)) || len(got) != DeliveryVerifierBytes {
		t.Fatalf("verifier %x", got)
	}
	if bytes.Equal(DeliveryVerifier("abcdefghjk", token), DeliveryVerifier("abcdefghjm", token)) {
		t.Fatal("the verifier does not bind the account")
	}
	other := bytes.Clone(token)
	other[0] ^= 1
	if bytes.Equal(DeliveryVerifier("abcdefghjk", token), DeliveryVerifier("abcdefghjk", other)) {
		t.Fatal("the verifier does not depend on the token")
	}
}

func TestAccountServiceID(t *testing.T) {
	id := AccountServiceID("23456789ab")
	if a, ok := ServiceIDAccount(id); !ok || a != "23456789ab" {
		t.Fatalf("round trip: %q, %v", a, ok)
	}
	bad := id
	bad[0] = 1
	if _, ok := ServiceIDAccount(bad); ok {
		t.Fatal("a PNI stood for an account")
	}
	bad = id
	bad[16] = 1
	if _, ok := ServiceIDAccount(bad); ok {
		t.Fatal("trailing bytes accepted")
	}
	if _, ok := ServiceIDAccount(AccountServiceID("0000000000")); ok {
		t.Fatal("an invalid account ID accepted")
	}
}
