package interop

import (
	"bytes"
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

// TestTamperedPreKeyMessageRejected flips bits in the parts of a PreKey
// message that key agreement or the MAC depend on (base key, identity key,
// Kyber ciphertext, the inner message and its MAC) and names unknown prekey
// ids. Each copy is refused, and nothing is stored: the receiver has still
// recorded no identity for the sender, and the genuine message then
// decrypts and yields the same safety number on both sides.
func TestTamperedPreKeyMessageRejected(t *testing.T) {
	forEachPairing(t, func(t *testing.T, a, b *side) {
		if err := a.ProcessBundle(b.addr(), b.id.Bundle); err != nil {
			t.Fatal(err)
		}
		first := a.send(b, 1)
		raw := first[0].ct.Ciphertext
		pk, err := ParsePreKeySignalMessage(raw)
		if err != nil {
			t.Fatal(err)
		}
		at := func(part []byte, off int) int { return bytes.Index(raw, part) + off }
		var cts []Ciphertext
		var what []string
		for _, f := range []struct {
			name string
			pos  int
		}{
			{"base key", at(pk.BaseKey, 10)},
			{"identity key", at(pk.IdentityKey, 20)},
			{"Kyber ciphertext", at(pk.KyberCiphertext, 100)},
			{"Kyber ciphertext, last byte", at(pk.KyberCiphertext, len(pk.KyberCiphertext)-1)},
			{"inner message ratchet key", at(pk.Message, 10)},
			{"inner message ciphertext", at(pk.Message, len(pk.Message)-MACSize-2)},
			{"inner message MAC", at(pk.Message, len(pk.Message)-1)},
		} {
			cts = append(cts, Ciphertext{Type: 3, Ciphertext: flipByte(raw, f.pos)})
			what = append(what, "PreKey message with a bit flipped in the "+f.name)
		}
		b.reject(a, "InvalidMessage", cts, what)

		cts, what = nil, nil
		for _, f := range []struct {
			name string
			num  int
			id   uint32
		}{
			{"signed prekey", 6, pk.SignedPreKeyID},
			{"Kyber prekey", 7, pk.KyberPreKeyID},
		} {
			i := varintOffset(t, raw[1:], f.num) + 1
			if f.id >= 0x40 || raw[i] != byte(f.id) {
				t.Fatalf("%s: %s id %d: this scenario needs ids below 64", a.Label, f.name, f.id)
			}
			cts = append(cts, Ciphertext{Type: 3, Ciphertext: withByte(raw, i, byte(f.id)|0x40)})
			what = append(what, fmt.Sprintf("PreKey message naming unknown %s id %d", f.name, f.id|0x40))
		}
		b.reject(a, "InvalidKey", cts, what)

		if fp, err := b.Fingerprint(a.addr()); err == nil {
			t.Fatalf("%s: after only refused messages it computes a safety number (%s): a forged identity key was recorded", b.Label, fp.Displayable)
		}
		b.receive(a, first)
		a.receive(b, b.send(a, 1))
		fa, errA := a.Fingerprint(b.addr())
		fb, errB := b.Fingerprint(a.addr())
		if errA != nil || errB != nil || fa.Displayable != fb.Displayable {
			t.Fatalf("safety numbers after the genuine message: %s %q (%v), %s %q (%v)", a.Label, fa.Displayable, errA, b.Label, fb.Displayable, errB)
		}
	})
}

// varintOffset returns the offset in msg of the value of varint field num.
func varintOffset(t *testing.T, msg []byte, num int) int {
	t.Helper()
	for off := 0; off < len(msg); {
		key, n, err := readVarint(msg[off:])
		if err != nil {
			t.Fatal(err)
		}
		off += n
		_, m, err := readVarint(msg[off:])
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case int(key>>3) == num && key&7 == 0:
			return off
		case key&7 == 2:
			l, _, _ := readVarint(msg[off:])
			off += m + int(l)
		default:
			off += m
		}
	}
	t.Fatalf("field %d not found", num)
	return 0
}
