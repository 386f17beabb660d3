package interop

import (
	"fmt"
	"testing"
)

// TestSkippedKeyBound proves the bound on stored skipped message keys
// (2,000, as libsignal keeps): in a fresh chain of 2,101 messages delivered
// last first, the 2,100 skipped keys are cut to the newest 2,000, so the
// first 100 messages can no longer be decrypted while the other 2,000 can.
func TestSkippedKeyBound(t *testing.T) {
	const n, bound = 2101, 2000
	forEachPairing(t, func(t *testing.T, a, b *side) {
		establish(t, a, b)
		msgs := a.send(b, n)
		b.receive(a, msgs[n-1:])
		b.receive(a, shuffled(b.rng, msgs[n-1-bound:n-1]))
		var cts []Ciphertext
		var what []string
		for i, m := range msgs[:n-1-bound] {
			cts = append(cts, m.ct)
			what = append(what, fmt.Sprintf("message %d of %d, whose key was dropped", i, n))
		}
		b.reject(a, "DuplicatedMessage", cts, what)
		a.receive(b, b.send(a, 3))
		b.receive(a, a.send(b, 3))
	})
}

// maxForwardJump is how far ahead of its chain a message may be, in both the
// Double Ratchet chain and the SPQR chain (libsignal's MAX_FORWARD_JUMPS and
// SPQR's max_jump).
const maxForwardJump = 25000

// TestForwardJumpBound proves the forward-jump bound: in a fresh chain of
// 25,003 messages delivered from the last one down, a message is refused as
// InvalidMessage, without harm, while its Double Ratchet counter or its SPQR
// index is more than 25,000 ahead of what the receiver has seen; the first
// one within both bounds decrypts, and then all the refused ones do.
func TestForwardJumpBound(t *testing.T) {
	const n = maxForwardJump + 3
	forEachPairing(t, func(t *testing.T, a, b *side) {
		if err := a.ProcessBundle(b.addr(), b.id.Bundle); err != nil {
			t.Fatal(err)
		}
		first := a.send(b, 1)
		b.receive(a, first)
		a.receive(b, b.send(a, 1))
		pk, err := ParsePreKeySignalMessage(first[0].ct.Ciphertext)
		if err != nil {
			t.Fatal(err)
		}
		seen, err := ParsePQRatchet(pk.Signal.PQRatchet) // the receiver's SPQR position

		msgs := a.send(b, n)
		var refused []message
		for k := n - 1; ; k-- {
			sm, err2 := ParseSignalMessage(msgs[k].ct.Ciphertext)
			pq, err3 := ParsePQRatchet(sm.PQRatchet)
			if err != nil || err2 != nil || err3 != nil || pq.Epoch != seen.Epoch {
				t.Fatalf("cannot follow the chains: %v / %v / %v, epochs %d and %d", err, err2, err3, seen.Epoch, pq.Epoch)
			}
			tooFar := sm.Counter > maxForwardJump || pq.Index-seen.Index > maxForwardJump
			what := fmt.Sprintf("message %d (counter %d, SPQR index %d; receiver at SPQR index %d)", k, sm.Counter, pq.Index, seen.Index)
			if !tooFar {
				t.Logf("%s: first message accepted: %s", b.Label, what)
				b.receive(a, msgs[k:k+1])
				break
			}
			b.reject(a, "InvalidMessage", []Ciphertext{msgs[k].ct}, []string{what + ", too far ahead"})
			refused = append(refused, msgs[k])
			if len(refused) > 10 {
				t.Fatalf("more than 10 messages refused; the bound is not %d", maxForwardJump)
			}
		}
		if len(refused) == 0 {
			t.Fatal("no message was too far ahead; the scenario tests nothing")
		}
		b.receive(a, refused)
		a.receive(b, b.send(a, 2))
	})
}
