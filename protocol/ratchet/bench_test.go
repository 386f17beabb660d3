package ratchet

import (
	"bytes"
	"testing"
)

// BenchmarkEncryptDecrypt100B is the ratchet alone: one 100-byte message
// encrypted by one State and decrypted by the other, steady chain, no store.
func BenchmarkEncryptDecrypt100B(b *testing.B) {
	a, bob := pair(b)
	recv(b, bob, send(b, a, 1)[0])
	pt := bytes.Repeat([]byte{'x'}, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, err := a.Encrypt(pt, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bob.Decrypt(m, DecryptOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStateEncoding is one parse and one encoding of a session state,
// what a store round trip adds to every message.
func BenchmarkStateEncoding(b *testing.B) {
	a, bob := pair(b)
	recv(b, bob, send(b, a, 1)[0])
	recv(b, a, send(b, bob, 1)[0])
	enc := mustEncode(&testing.T{}, a)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := Parse(enc)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
}
