package interop

import (
	"bytes"
	"testing"
)

// TestThousandsEachWay proves long chains: 2,500 messages one way, then 2,500
// the other, each batch in one chain, with counters that count up by one.
func TestThousandsEachWay(t *testing.T) {
	const n = 2500
	forEachPairing(t, func(t *testing.T, a, b *side) {
		establish(t, a, b)
		for _, dir := range [][2]*side{{a, b}, {b, a}} {
			from, to := dir[0], dir[1]
			msgs := from.send(to, n)
			checkCounters(t, from, msgs)
			to.receive(from, msgs)
		}
	})
}

// checkCounters checks that a batch sent without anything received in
// between is one chain: one ratchet key, counters rising by one.
func checkCounters(t *testing.T, from *side, msgs []message) {
	t.Helper()
	var key []byte
	var last uint32
	for i, m := range msgs {
		sm, err := ParseSignalMessage(m.ct.Ciphertext)
		if err != nil || m.ct.Type != 2 {
			t.Fatalf("%s: message %d (type %d): %v", from.Label, i, m.ct.Type, err)
		}
		if i > 0 && (!bytes.Equal(sm.RatchetKey, key) || sm.Counter != last+1) {
			t.Fatalf("%s: message %d has counter %d (previous %d) and ratchet key changed=%v; one chain must count up by one under one key", from.Label, i, sm.Counter, last, !bytes.Equal(sm.RatchetKey, key))
		}
		key, last = sm.RatchetKey, sm.Counter
	}
}

// TestOutOfOrderWithinChain delivers one chain of 300 messages in a seeded
// random order.
func TestOutOfOrderWithinChain(t *testing.T) {
	forEachPairing(t, func(t *testing.T, a, b *side) {
		establish(t, a, b)
		msgs := a.send(b, 300)
		b.receive(a, shuffled(b.rng, msgs))
		back := b.send(a, 300)
		a.receive(b, shuffled(a.rng, back))
	})
}

// TestOutOfOrderAcrossRatchetSteps holds back messages of three successive
// sending chains of each side (each reply turns the DH ratchet) and delivers
// them at the end, mixed in one shuffled batch. This needs the skipped keys
// of old receiving chains and previous_counter handled as libsignal does.
func TestOutOfOrderAcrossRatchetSteps(t *testing.T) {
	forEachPairing(t, func(t *testing.T, a, b *side) {
		establish(t, a, b)
		var heldForB, heldForA []message
		keysA := map[string]bool{}
		for step := 0; step < 3; step++ {
			toB := a.send(b, 20)
			keysA[string(ratchetKey(t, toB[0]))] = true
			// deliver two of them so that b turns its ratchet, hold the rest
			b.receive(a, []message{toB[7], toB[3]})
			heldForB = append(heldForB, append(append(toB[:3:3], toB[4:7]...), toB[8:]...)...)

			toA := b.send(a, 20)
			a.receive(b, []message{toA[11], toA[0]})
			heldForA = append(heldForA, append(toA[1:11:11], toA[12:]...)...)
		}
		if len(keysA) != 3 {
			t.Fatalf("%s used %d distinct ratchet keys over 3 sending chains, want 3 (a DH ratchet step per reply)", a.Label, len(keysA))
		}
		b.receive(a, shuffled(b.rng, heldForB))
		a.receive(b, shuffled(a.rng, heldForA))
		// and the conversation goes on
		b.receive(a, a.send(b, 5))
		a.receive(b, b.send(a, 5))
	})
}

func ratchetKey(t *testing.T, m message) []byte {
	t.Helper()
	sm, err := ParseSignalMessage(m.ct.Ciphertext)
	if err != nil {
		t.Fatal(err)
	}
	return sm.RatchetKey
}

// TestBurstLastFirst delivers a burst of 2,000 messages last-first: the first
// decryption skips 1,999 keys, which libsignal keeps (its bound is 2,000).
func TestBurstLastFirst(t *testing.T) {
	forEachPairing(t, func(t *testing.T, a, b *side) {
		establish(t, a, b)
		b.receive(a, reversed(a.send(b, 2000)))
		a.receive(b, reversed(b.send(a, 2000)))
	})
}

// TestLongConversation runs a seeded conversation of 80 rounds. In each
// round one side (mostly alternating) sends 1–30 messages; every message is
// dropped with probability 1/10 or delivered within the next three rounds,
// shuffled with whatever else is due. Every delivered message must decrypt to
// exactly what was sent; dropped ones are simply never seen.
func TestLongConversation(t *testing.T) {
	const rounds = 80
	forEachPairing(t, func(t *testing.T, a, b *side) {
		establish(t, a, b)
		rng := a.rng
		type pending struct {
			message
			due int
		}
		inflight := map[*side][]pending{a: nil, b: nil} // keyed by receiver
		sent, dropped, delivered := 0, 0, 0
		from := a
		deliver := func(round int) {
			for _, to := range []*side{a, b} {
				var due []message
				var keep []pending
				for _, p := range inflight[to] {
					if p.due <= round {
						due = append(due, p.message)
					} else {
						keep = append(keep, p)
					}
				}
				inflight[to] = keep
				other := a
				if to == a {
					other = b
				}
				to.receive(other, shuffled(rng, due))
				delivered += len(due)
			}
		}
		for round := 0; round < rounds; round++ {
			if rng.IntN(4) != 0 { // mostly alternate, sometimes the same side again
				from = map[*side]*side{a: b, b: a}[from]
			}
			to := map[*side]*side{a: b, b: a}[from]
			for _, m := range from.send(to, 1+rng.IntN(30)) {
				sent++
				if rng.IntN(10) == 0 {
					dropped++
					continue
				}
				inflight[to] = append(inflight[to], pending{m, round + rng.IntN(3)})
			}
			deliver(round)
		}
		deliver(rounds + 3)
		if delivered+dropped != sent || dropped == 0 {
			t.Fatalf("bookkeeping: sent %d, delivered %d, dropped %d", sent, delivered, dropped)
		}
		t.Logf("%s → %s: %d messages sent, %d delivered out of order, %d dropped", a.impl, b.impl, sent, delivered, dropped)
	})
}
