package storetest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/skymsg/sky/server/store"
)

// testSealed: delivery verifiers belong to one account, go with it, and
// server-wide values are kept and replaced.
func testSealed(t *testing.T, s store.Store) {
	newAccount(t, s, "alice")
	newAccount(t, s, "bob")
	if v, err := s.DeliveryVerifier(ctx(t), "alice"); err != nil || v != nil {
		t.Fatalf("a new account's verifier = %x, %v; want none", v, err)
	}
	va, vb := randBytes(32), randBytes(32)
	if err := s.SetDeliveryVerifier(ctx(t), "alice", va); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDeliveryVerifier(ctx(t), "bob", vb); err != nil {
		t.Fatal(err)
	}
	if v, err := s.DeliveryVerifier(ctx(t), "alice"); err != nil || !bytes.Equal(v, va) {
		t.Fatalf("alice's verifier = %x, %v; want %x", v, err, va)
	}
	if err := s.SetDeliveryVerifier(ctx(t), "alice", nil); err != nil {
		t.Fatal(err)
	}
	if v, err := s.DeliveryVerifier(ctx(t), "alice"); err != nil || v != nil {
		t.Fatalf("after removal alice's verifier = %x, %v", v, err)
	}
	if v, _ := s.DeliveryVerifier(ctx(t), "bob"); !bytes.Equal(v, vb) {
		t.Fatal("removing alice's verifier changed bob's")
	}
	if err := s.SetDeliveryVerifier(ctx(t), "nobody", va); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetDeliveryVerifier(nobody) = %v, want ErrNotFound", err)
	}
	if _, err := s.DeliveryVerifier(ctx(t), "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeliveryVerifier(nobody) = %v, want ErrNotFound", err)
	}
	if err := s.DeleteAccount(ctx(t), "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeliveryVerifier(ctx(t), "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a deleted account's verifier: %v, want ErrNotFound", err)
	}

	if _, err := s.Meta(ctx(t), "sealed"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Meta(unset) = %v, want ErrNotFound", err)
	}
	for _, v := range [][]byte{[]byte("one"), []byte("two")} {
		if err := s.SetMeta(ctx(t), "sealed", v); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Meta(ctx(t), "sealed"); err != nil || !bytes.Equal(got, v) {
			t.Fatalf("Meta = %q, %v; want %q", got, err, v)
		}
	}
	sec, err := s.Secret(ctx(t), "other", 16)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Meta(ctx(t), "other"); err != nil || !bytes.Equal(got, sec) {
		t.Fatalf("Meta reads a secret's value: %x, %v", got, err)
	}
}
