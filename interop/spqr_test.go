package interop

import "testing"

// TestSPQREpochs follows the SPQR epoch in the pq_ratchet field of every
// message of an alternating conversation of 1,200 messages. Between two
// libsignal peers the epochs must rise past 3 (the post-quantum ratchet
// turns); that checks ParsePQRatchet against the real thing. Sky's Go core
// does not ratchet post-quantum keys yet ("SPQR-lite" stays at epoch 1), so
// for pairings with a Go side the epochs are only reported; the SPQR work
// will make this assertion hold for every pairing.
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
		if a.impl == "Node" && b.impl == "Node" {
			if maxEpoch[a] <= 3 || maxEpoch[b] <= 3 {
				t.Fatalf("libsignal peers reached SPQR epochs %d and %d, want both past 3", maxEpoch[a], maxEpoch[b])
			}
		}
	})
}
