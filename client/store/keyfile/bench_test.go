package keyfile

import (
	"testing"
)

// BenchmarkDeriveDefault measures one Argon2id derivation with the Default
// parameters: the cost of every unlock.
func BenchmarkDeriveDefault(b *testing.B) {
	salt := make([]byte, SaltSize)
	for b.Loop() {
		k := Derive(Default, salt, realPass)
		k.Zero()
	}
}

// BenchmarkUnlock measures a whole key-file unlock with the Default parameters
// for the real, the panic and a wrong passphrase (acceptance test 22(c)): the
// three must cost the same, up to noise.
func BenchmarkUnlock(b *testing.B) {
	f, _, _ := newFile(b, Default)
	for _, tc := range []struct {
		name string
		pass []byte
	}{{"real", realPass}, {"panic", panicPass}, {"wrong", wrongPass}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				u, _ := f.Unlock(tc.pass)
				u.Zero()
			}
		})
	}
}
