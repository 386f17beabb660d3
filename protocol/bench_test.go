package protocol_test

import (
	"bytes"
	"testing"

	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/prekey"
)

// Benchmarks run the full session API against in-memory stores that keep
// records encoded, as a durable store would: every operation loads, decodes,
// updates, encodes and stores the session record.

func established(b *testing.B) (alice, bob *device) {
	alice, bob = newDevice(b, aliceName), newDevice(b, bobName)
	alice.startSession(b, bob, true)
	bob.mustDecrypt(b, alice, alice.encrypt(b, bob, "hi"), "hi")
	alice.mustDecrypt(b, bob, bob.encrypt(b, alice, "hello"), "hello")
	return alice, bob
}

// skyOp returns one operation of BenchmarkEncryptDecrypt: a message of size
// bytes encrypted and decrypted in an established session.
func skyOp(b *testing.B, size int) func() {
	alice, bob := established(b)
	pt := bytes.Repeat([]byte{'x'}, size)
	return func() {
		c, err := protocol.Encrypt(ctx, alice.store.Stores(), alice.addr, bob.addr, pt, t0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := protocol.Decrypt(ctx, bob.store.Stores(), bob.addr, alice.addr, c); err != nil {
			b.Fatal(err)
		}
	}
}

func benchEncryptDecrypt(b *testing.B, size int) {
	op := skyOp(b, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		op()
	}
}

// BenchmarkEncryptDecrypt100B: one 100-byte message encrypted and decrypted
// in an established session, steady chain.
func BenchmarkEncryptDecrypt100B(b *testing.B) { benchEncryptDecrypt(b, 100) }

// BenchmarkEncryptDecrypt10KiB: the same for 10 KiB.
func BenchmarkEncryptDecrypt10KiB(b *testing.B) { benchEncryptDecrypt(b, 10<<10) }

// BenchmarkDHRatchetTurn: messages alternate direction, so every decryption
// is a DH ratchet step (one op = one message encrypted and decrypted).
func BenchmarkDHRatchetTurn(b *testing.B) {
	op := skyTurnOp(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		op()
	}
}

// skyTurnOp returns one operation of BenchmarkDHRatchetTurn: a message the
// other way than the last one, so that its decryption is a DH ratchet step.
func skyTurnOp(b *testing.B) func() {
	alice, bob := established(b)
	pt := bytes.Repeat([]byte{'x'}, 100)
	sides := [2]*device{alice, bob}
	i := 0
	return func() {
		from, to := sides[i%2], sides[1-i%2]
		i++
		c, err := protocol.Encrypt(ctx, from.store.Stores(), from.addr, to.addr, pt, t0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := protocol.Decrypt(ctx, to.store.Stores(), to.addr, from.addr, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSessionSetup: PQXDH on both sides with a one-time prekey.
// Initiator = verify the bundle and ProcessPreKeyBundle; Recipient = decrypt
// the first PreKey message (accepting PQXDH, loading the prekeys).
func BenchmarkSessionSetup(b *testing.B) {
	alice, bob := newDevice(b, aliceName), newDevice(b, bobName)
	bundles := func(n int) []*prekey.Bundle {
		out := make([]*prekey.Bundle, n)
		for i := range out {
			out[i] = bob.bundle(b, true)
		}
		return out
	}
	b.Run("Initiator", func(b *testing.B) {
		bs := bundles(b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := protocol.ProcessPreKeyBundle(ctx, alice.store.Stores(), alice.addr, bob.addr, bs[i], t0); err != nil {
				b.Fatal(err)
			}
			alice.store.DeleteSession(bob.addr)
		}
	})
	b.Run("Recipient", func(b *testing.B) {
		bs := bundles(b.N)
		firsts := make([]protocol.Ciphertext, b.N)
		for i := range firsts {
			if err := protocol.ProcessPreKeyBundle(ctx, alice.store.Stores(), alice.addr, bob.addr, bs[i], t0); err != nil {
				b.Fatal(err)
			}
			firsts[i] = alice.encrypt(b, bob, "hello")
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := bob.decrypt(alice, firsts[i]); err != nil {
				b.Fatal(err)
			}
			bob.store.DeleteSession(alice.addr)
		}
	})
}
