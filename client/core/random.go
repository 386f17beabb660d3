package core

import (
	crand "crypto/rand"
	"encoding/binary"
	"math/rand/v2"
	"time"
)

// randDuration returns a uniformly random duration in [0, n), or 0 when n is
// not positive. Receipt delays and reconnection jitter exist to blur timing
// that an observer of the network or the server could correlate, so they
// draw from crypto/rand like everything else, not from a seeded generator.
func randDuration(n time.Duration) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration(rand.New(cryptoSource{}).Int64N(int64(n)))
}

// cryptoSource is a math/rand/v2 Source reading crypto/rand, so that
// math/rand's unbiased range reduction can be used on secure randomness.
type cryptoSource struct{}

func (cryptoSource) Uint64() uint64 {
	var b [8]byte
	crand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}
