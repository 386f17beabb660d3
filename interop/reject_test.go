package interop

import (
	"fmt"
	"testing"
)

// TestDuplicatesRejected proves replay detection: a message decrypted once is
// refused as DuplicatedMessage when it comes again, whether it was in order,
// out of order (its key came from the skipped-key store), or the PreKey
// message that opened the session.
func TestDuplicatesRejected(t *testing.T) {
	forEachPairing(t, func(t *testing.T, a, b *side) {
		if err := a.ProcessBundle(b.addr(), b.id.Bundle); err != nil {
			t.Fatal(err)
		}
		first := a.send(b, 1)
		b.receive(a, first)
		b.reject(a, "DuplicatedMessage", []Ciphertext{first[0].ct}, []string{"the PreKey message again"})
		a.receive(b, b.send(a, 1))

		msgs := a.send(b, 6)
		b.receive(a, []message{msgs[0], msgs[4], msgs[2]})
		b.reject(a, "DuplicatedMessage",
			[]Ciphertext{msgs[0].ct, msgs[4].ct, msgs[2].ct, msgs[4].ct},
			[]string{"in-order message again", "skipped-ahead message again", "message from the skipped-key store again", "skipped-ahead message a third time"})
		b.receive(a, []message{msgs[3], msgs[1], msgs[5]})
		a.receive(b, b.send(a, 3))
	})
}

// TestBadMessagesRejected proves that tampered, truncated, extended and empty
// messages are refused as InvalidMessage and harm nothing: after every batch
// of bad copies, the genuine message still decrypts, and the conversation
// goes on in both directions.
func TestBadMessagesRejected(t *testing.T) {
	forEachPairing(t, func(t *testing.T, a, b *side) {
		if err := a.ProcessBundle(b.addr(), b.id.Bundle); err != nil {
			t.Fatal(err)
		}
		// The PreKey message: truncations and emptiness (its outer fields carry
		// no MAC, so bit flips are tested on Whisper messages below).
		first := a.send(b, 1)
		cts, what := truncations(first[0].ct)
		b.reject(a, "InvalidMessage", cts, what)
		b.receive(a, first)

		reply := b.send(a, 1)
		cts, what = truncations(reply[0].ct)
		a.reject(b, "InvalidMessage", cts, what)
		a.receive(b, reply)

		// Whisper messages in both directions: one bit flipped in every byte.
		for _, dir := range [][2]*side{{a, b}, {b, a}} {
			from, to := dir[0], dir[1]
			msgs := from.send(to, 2)
			cts, what := bitFlips(to, msgs[0].ct)
			more, moreWhat := truncations(msgs[0].ct)
			to.reject(from, "InvalidMessage", append(cts, more...), append(what, moreWhat...))
			to.receive(from, msgs)
			to.reject(from, "InvalidMessage", []Ciphertext{{Type: 2}, {Type: 3}}, []string{"empty Whisper message", "empty PreKey message"})
		}
		a.receive(b, b.send(a, 3))
		b.receive(a, a.send(b, 3))
	})
}

// bitFlips returns copies of c with one random bit flipped in each byte.
func bitFlips(s *side, c Ciphertext) ([]Ciphertext, []string) {
	var cts []Ciphertext
	var what []string
	for i := range c.Ciphertext {
		bit := s.rng.IntN(8)
		b := append([]byte(nil), c.Ciphertext...)
		b[i] ^= 1 << bit
		cts = append(cts, Ciphertext{Type: c.Type, Ciphertext: b})
		what = append(what, fmt.Sprintf("bit %d of byte %d of %d flipped", bit, i, len(b)))
	}
	return cts, what
}

// truncations returns c cut to various lengths, empty, and extended by a byte.
func truncations(c Ciphertext) ([]Ciphertext, []string) {
	n := len(c.Ciphertext)
	var cts []Ciphertext
	var what []string
	for _, l := range []int{0, 1, 2, 10, 40, n / 2, n - MACSize - 1, n - MACSize, n - 1} {
		if l < 0 || l >= n {
			continue
		}
		cts = append(cts, Ciphertext{Type: c.Type, Ciphertext: append([]byte(nil), c.Ciphertext[:l]...)})
		what = append(what, fmt.Sprintf("type %d cut to %d of %d bytes", c.Type, l, n))
	}
	cts = append(cts, Ciphertext{Type: c.Type, Ciphertext: append(append([]byte(nil), c.Ciphertext...), 0)})
	what = append(what, fmt.Sprintf("type %d extended by a zero byte", c.Type))
	return cts, what
}

// TestNoSession proves that encrypting without a session, and decrypting a
// Whisper message for which the receiver holds no session, fail as
// NoSession.
func TestNoSession(t *testing.T) {
	forEachPairing(t, func(t *testing.T, a, b *side) {
		if _, err := a.Encrypt(b.addr(), []byte("hello")); ErrorType(err) != "NoSession" {
			t.Fatalf("%s: encrypt without a session: %v, want NoSession", a.Label, err)
		}
		establish(t, a, b)
		msgs := a.send(b, 1)
		b.init(true) // b starts over: a fresh identity and empty stores
		b.reject(a, "NoSession", []Ciphertext{msgs[0].ct}, []string{"Whisper message to a peer without a session"})
	})
}

// TestBundleSignaturesChecked proves that a bundle whose signed prekey or
// Kyber prekey signature does not verify is refused as InvalidSignature and
// creates no session.
func TestBundleSignaturesChecked(t *testing.T) {
	forEachPairing(t, func(t *testing.T, a, b *side) {
		for _, tamper := range []struct {
			name string
			f    func(*Bundle)
		}{
			{"signed prekey signature", func(bd *Bundle) { bd.SignedPreKeySignature[5] ^= 0x10 }},
			{"Kyber prekey signature", func(bd *Bundle) { bd.KyberPreKeySignature[40] ^= 0x01 }},
			{"signed prekey", func(bd *Bundle) { bd.SignedPreKey[9] ^= 0x04 }},
			{"Kyber prekey", func(bd *Bundle) { bd.KyberPreKey[700] ^= 0x80 }},
		} {
			bd := b.id.Bundle
			bd.SignedPreKeySignature = append([]byte(nil), bd.SignedPreKeySignature...)
			bd.KyberPreKeySignature = append([]byte(nil), bd.KyberPreKeySignature...)
			bd.SignedPreKey = append([]byte(nil), bd.SignedPreKey...)
			bd.KyberPreKey = append([]byte(nil), bd.KyberPreKey...)
			tamper.f(&bd)
			if err := a.ProcessBundle(b.addr(), bd); ErrorType(err) != "InvalidSignature" {
				t.Fatalf("%s: bundle with a tampered %s: %v, want InvalidSignature", a.Label, tamper.name, err)
			}
			if _, err := a.Encrypt(b.addr(), []byte("hello")); ErrorType(err) != "NoSession" {
				t.Fatalf("%s: encrypt after a refused bundle: %v, want NoSession", a.Label, err)
			}
		}
		establish(t, a, b) // the genuine bundle still works
	})
}
