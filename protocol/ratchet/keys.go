package ratchet

import (
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/internal/kdf"
)

// The key derivations of libsignal's Double Ratchet:
//
//	root step:    (RK', CK) = HKDF(salt RK, ikm DH(ours, theirs), "WhisperRatchet", 64)
//	chain step:   CK' = HMAC(CK, 0x02); message seed = HMAC(CK, 0x01)
//	message keys: HKDF(salt SPQR key, ikm seed, "WhisperMessageKeys", 80)
//	              = cipher key (32) || MAC key (32) || IV (16)
var (
	labelRatchet     = []byte("WhisperRatchet")
	labelMessageKeys = []byte("WhisperMessageKeys")
	seedMessage      = []byte{0x01}
	seedChain        = []byte{0x02}
)

// chainKey is a position in a sending or receiving chain.
type chainKey struct {
	key   [32]byte
	index uint32 // the counter of the message this key encrypts
}

func (c chainKey) next() chainKey {
	return chainKey{key: kdf.HMAC(c.key[:], seedChain), index: c.index + 1}
}

func (c chainKey) seed() [32]byte { return kdf.HMAC(c.key[:], seedMessage) }

// step returns the message seed of c and the next chain key, keying HMAC once.
func (c *chainKey) step() (seed [32]byte, next chainKey) {
	seed, next.key = kdf.HMACPair(c.key[:], seedMessage, seedChain)
	next.index = c.index + 1
	return seed, next
}

// rootStep mixes a new agreement into the root key and starts a chain.
func rootStep(root [32]byte, ours curve.PrivateKey, theirs curve.PublicKey) (newRoot [32]byte, chain chainKey, err error) {
	dh, err := ours.Agree(theirs)
	if err != nil {
		return newRoot, chain, err
	}
	var out [64]byte
	kdf.HKDFParts(out[:], root[:], dh[:], labelRatchet)
	copy(newRoot[:], out[:32])
	copy(chain.key[:], out[32:])
	clear(out[:])
	clear(dh[:])
	return newRoot, chain, nil
}

// messageKeys are the keys of one message.
type messageKeys struct {
	cipher [32]byte
	mac    [32]byte
	iv     [16]byte
}

func deriveMessageKeys(seed, spqrKey [32]byte) messageKeys {
	var out [80]byte
	kdf.HKDFParts(out[:], spqrKey[:], seed[:], labelMessageKeys)
	var k messageKeys
	copy(k.cipher[:], out[:32])
	copy(k.mac[:], out[32:64])
	copy(k.iv[:], out[64:])
	clear(out[:])
	return k
}

func (k *messageKeys) wipe() { *k = messageKeys{} }
