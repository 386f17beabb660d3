package interop

import (
	"testing"
)

// TestSPQRBraidUnderLoss runs a long conversation through a lossy, reordering
// network and follows the SPQR field of every message: each sender's epoch
// must never go back and must pass 3 on both sides, every delivered message
// must decrypt, and each side must have streamed, in different epochs, both
// an ML-KEM header and key (the send_ek role) and ciphertexts (the send_ct
// role). The pairings with the Go peer thus check Sky's ML-KEM Braid against
// libsignal's in both roles, with redundant chunks standing in for lost ones.
func TestSPQRBraidUnderLoss(t *testing.T) {
	const rounds = 160
	forEachPairing(t, func(t *testing.T, a, b *side) {
		establish(t, a, b)
		rng := a.rng
		other := map[*side]*side{a: b, b: a}
		type pending struct {
			message
			due int
		}
		inflight := map[*side][]pending{} // keyed by receiver
		maxEpoch := map[*side]uint64{}
		types := map[*side]map[byte]bool{a: {}, b: {}}
		sent, dropped, delivered := 0, 0, 0
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
				to.receive(other[to], shuffled(rng, due))
				delivered += len(due)
			}
		}
		from := a
		for round := 0; round < rounds; round++ {
			if rng.IntN(5) != 0 { // mostly alternate
				from = other[from]
			}
			to := other[from]
			for _, m := range from.send(to, 1+rng.IntN(8)) {
				sent++
				p := spqrField(t, from, m)
				if p.Epoch < maxEpoch[from] {
					t.Fatalf("%s: SPQR epoch went back from %d to %d", from.Label, maxEpoch[from], p.Epoch)
				}
				maxEpoch[from] = p.Epoch
				types[from][p.Type] = true
				if rng.IntN(10) == 0 {
					dropped++
					continue
				}
				inflight[to] = append(inflight[to], pending{m, round + rng.IntN(3)})
			}
			deliver(round)
		}
		deliver(rounds + 3)
		t.Logf("%s → %s: %d messages, %d dropped, %d delivered shuffled and up to 2 rounds late; SPQR epochs %d (%s) and %d (%s)",
			a.impl, b.impl, sent, dropped, delivered, maxEpoch[a], a.Label, maxEpoch[b], b.Label)
		for _, s := range []*side{a, b} {
			if maxEpoch[s] <= 3 {
				t.Errorf("%s reached SPQR epoch %d, want past 3", s.Label, maxEpoch[s])
			}
			for _, typ := range []byte{SPQRHdr, SPQREk, SPQRCt1, SPQRCt2} {
				if !types[s][typ] {
					t.Errorf("%s never sent an SPQR message of type %d: it did not play both braid roles", s.Label, typ)
				}
			}
		}
	})
}

// TestSPQRBraidOneSided checks that a long one-way stretch, with only rare
// replies, keeps decrypting while the braid waits for the silent side, and
// that the epochs advance once the conversation alternates again.
func TestSPQRBraidOneSided(t *testing.T) {
	forEachPairing(t, func(t *testing.T, a, b *side) {
		establish(t, a, b)
		maxEpoch := map[*side]uint64{}
		track := func(from *side, msgs []message) {
			for _, m := range msgs {
				maxEpoch[from] = max(maxEpoch[from], spqrField(t, from, m).Epoch)
			}
		}
		// 600 messages from a, in bursts of 100 delivered last-first, with
		// one reply from b per burst.
		for range 6 {
			msgs := a.send(b, 100)
			track(a, msgs)
			b.receive(a, reversed(msgs))
			reply := b.send(a, 1)
			track(b, reply)
			a.receive(b, reply)
		}
		early := min(maxEpoch[a], maxEpoch[b])
		for range 150 {
			for _, dir := range [][2]*side{{a, b}, {b, a}} {
				msgs := dir[0].send(dir[1], 2)
				track(dir[0], msgs)
				dir[1].receive(dir[0], msgs)
			}
		}
		t.Logf("%s → %s: epochs %d after the one-sided stretch, %d and %d after 600 alternating messages", a.impl, b.impl, early, maxEpoch[a], maxEpoch[b])
		if maxEpoch[a] <= early+2 || maxEpoch[b] <= early+2 {
			t.Fatalf("epochs stalled at %d and %d (were %d)", maxEpoch[a], maxEpoch[b], early)
		}
	})
}

// spqrField parses the pq_ratchet field of a message.
func spqrField(t *testing.T, from *side, m message) PQRatchet {
	t.Helper()
	sm, err := signalMessageOf(m.ct)
	if err != nil {
		t.Fatalf("%s: %v", from.Label, err)
	}
	p, err := ParsePQRatchet(sm.PQRatchet)
	if err != nil || p.Version == 0 {
		t.Fatalf("%s: pq_ratchet %x: version %d, %v", from.Label, sm.PQRatchet, p.Version, err)
	}
	return p
}

// signalMessageOf returns the SignalMessage of a Whisper or PreKey message.
func signalMessageOf(c Ciphertext) (SignalMessage, error) {
	if c.Type == 3 {
		m, err := ParsePreKeySignalMessage(c.Ciphertext)
		return m.Signal, err
	}
	return ParseSignalMessage(c.Ciphertext)
}
