package trust

import "testing"

func TestHeldEnvelopesBounded(t *testing.T) {
	var envs [][]byte
	for n := range 3 * maxHeldEnvelopes {
		size := 100
		if n%2 == 0 {
			size = 256 << 10 // the largest sealed envelope
		}
		e := make([]byte, size)
		e[0], e[1] = byte(n), byte(n>>8)
		envs = keepHeldEnvelope(envs, e)
	}
	total := 0
	for _, e := range envs {
		total += len(e)
	}
	if len(envs) == 0 || len(envs) > maxHeldEnvelopes || total > maxHeldEnvelopeBytes || int(envs[len(envs)-1][0])|int(envs[len(envs)-1][1])<<8 != 3*maxHeldEnvelopes-1 {
		t.Fatalf("%d envelopes of %d bytes held", len(envs), total)
	}
}
