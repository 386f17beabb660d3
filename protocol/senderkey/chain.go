package senderkey

import (
	"math"

	"github.com/skymsg/sky/protocol/internal/kdf"
)

// The limits libsignal applies to a receiving chain.
const (
	// MaxForwardJump is how many iterations past the next expected one a
	// message may be (25,000; one more is refused).
	MaxForwardJump = 25_000
	// MaxSkippedKeys is how many skipped message keys a chain keeps; the
	// oldest go first.
	MaxSkippedKeys = 2_000
	// MaxStates is how many chains a record keeps for one (sender,
	// distribution); adding one more drops the oldest.
	MaxStates = 5
)

// The HMAC inputs that derive a message seed and the next chain key.
var (
	messageSeedLabel = []byte{0x01}
	chainKeyLabel    = []byte{0x02}
)

// groupInfo is the HKDF info of message keys.
const groupInfo = "WhisperGroup"

// chainKey is a sender chain at one iteration.
type chainKey struct {
	iteration uint32
	seed      [ChainKeySize]byte
}

// next returns the chain key of the next iteration; a chain ends at
// iteration 2^32 - 1, as in libsignal.
func (c chainKey) next() (chainKey, bool) {
	if c.iteration == math.MaxUint32 {
		return chainKey{}, false
	}
	return chainKey{iteration: c.iteration + 1, seed: kdf.HMAC(c.seed[:], chainKeyLabel)}, true
}

// messageKey returns the message key of this iteration.
func (c chainKey) messageKey() messageKey {
	return messageKey{iteration: c.iteration, seed: kdf.HMAC(c.seed[:], messageSeedLabel)}
}

// messageKey is the seed of one message's key, kept for skipped messages.
type messageKey struct {
	iteration uint32
	seed      [32]byte
}

// keys derives the AES-256-CBC IV and key: HKDF(no salt, seed,
// "WhisperGroup", 48) = iv[0..16) || key[16..48).
func (k messageKey) keys() (iv, key []byte) {
	out := make([]byte, 48)
	kdf.HKDF(out, nil, k.seed[:], groupInfo)
	return out[:16], out[16:]
}
