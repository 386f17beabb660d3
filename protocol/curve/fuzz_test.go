package curve

import (
	"bytes"
	"testing"

	"filippo.io/edwards25519/field"
)

// FuzzParsePublicKey checks that any input either fails to parse or
// round-trips exactly, and that checking signatures and canonicity on parsed
// keys never panics and never accepts a signature under a different key.
func FuzzParsePublicKey(f *testing.F) {
	priv, _ := ParsePrivateKey(bytes.Repeat([]byte{0x42}, 32))
	pub := priv.PublicKey()
	var z [64]byte
	sig := priv.signWithRandom(z, []byte("m"))
	f.Add(pub.Bytes(), sig[:])
	f.Add([]byte{5}, []byte{})
	f.Add(append([]byte{5}, bytes.Repeat([]byte{0xff}, 32)...), bytes.Repeat([]byte{0xff}, 64))
	f.Fuzz(func(t *testing.T, key, sig []byte) {
		k, err := ParsePublicKey(key)
		if err != nil {
			return
		}
		if !bytes.Equal(k.Bytes(), key) {
			t.Fatalf("round trip %x -> %x", key, k.Bytes())
		}
		k.IsCanonical()
		if k.Verify(sig, []byte("m")) && reduced(k) != reduced(pub) {
			t.Fatalf("forged signature %x for key %x", sig, key)
		}
	})
}

// reduced returns u as a canonical field element (bit 255 ignored, mod p).
func reduced(k PublicKey) [32]byte {
	e, _ := new(field.Element).SetBytes(k.u[:])
	return [32]byte(e.Bytes())
}
