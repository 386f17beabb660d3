package interop

import "testing"

// TestSPQREpochs follows the SPQR epoch in the pq_ratchet field of every
// message of an alternating conversation of 1,200 messages. In every pairing
// the epochs must rise past 3 (the post-quantum ratchet turns): between two
// libsignal peers that checks ParsePQRatchet against the real thing, and with
// a Go side it checks Sky's ML-KEM Braid against libsignal's.
func TestSPQREpochs(t *testing.T) {
	const rounds, burst = 150, 4
	forEachPairing(t, func(t *testing.T, a, b *side) {
		establish(t, a, b)
		maxEpoch := map[*side]uint64{}
		for round := 0; round < rounds; round++ {
			for _, dir := range [][2]*side{{a, b}, {b, a}} {
				from, to := dir[0], dir[1]
				msgs := from.send(to, burst)
				for _, m := range msgs {
					e, err := MessageEpoch(m.ct.Type, m.ct.Ciphertext)
					if err != nil {
						t.Fatalf("%s: round %d: %v", from.Label, round, err)
					}
					if e < maxEpoch[from] {
						t.Fatalf("%s: SPQR epoch went back from %d to %d", from.Label, maxEpoch[from], e)
					}
					maxEpoch[from] = e
				}
				to.receive(from, msgs)
			}
		}
		t.Logf("%s → %s: after %d messages the SPQR epochs are %d (%s) and %d (%s)", a.impl, b.impl, 2*rounds*burst, maxEpoch[a], a.Label, maxEpoch[b], b.Label)
		if maxEpoch[a] <= 3 || maxEpoch[b] <= 3 {
			t.Fatalf("%s and %s reached SPQR epochs %d and %d, want both past 3", a.Label, b.Label, maxEpoch[a], maxEpoch[b])
		}
	})
}
