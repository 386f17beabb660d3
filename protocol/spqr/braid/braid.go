// Package braid implements the ML-KEM Braid of SPQR v1, the sparse continuous
// key agreement that Signal's Sparse Post-Quantum Ratchet runs beside the
// Double Ratchet, byte-compatible with libsignal 0.103 (SparsePostQuantumRatchet
// v1.5.3).
//
// The two parties agree on a fresh secret per epoch. In each epoch one of them
// ("send_ek") samples an ML-KEM-768 key pair and streams its header ρ ‖ H(ek)
// with a MAC, then the key vector t̂; the other ("send_ct") encapsulates in two
// steps, streaming ct1 as soon as it has the header and ct2 with a MAC once it
// has t̂. The roles swap every epoch: the session initiator starts as send_ek
// in epoch 1. Every blob travels in 32-byte chunks of an erasure code (package
// erasure), one chunk per message, so lost and reordered messages only delay
// an epoch. Each side learns the epoch secret when it can compute it — the
// encapsulator when it sends the first ct1 chunk, the key owner when ct2 is
// complete and its MAC verifies — and hands it to the symmetric chain.
//
// A State is one party's position in this exchange. Send and Recv return a
// new epoch secret when there is one; both leave the state unchanged when they
// fail. States serialize with MarshalBinary at any point.
package braid

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/skymsg/sky/internal/mlkem768"
	"github.com/skymsg/sky/protocol/spqr/authenticator"
	"github.com/skymsg/sky/protocol/spqr/erasure"
)

// Blob sizes, each a whole number of 32-byte chunks.
const (
	headerBlobSize = mlkem768.HeaderSize + authenticator.MACSize      // ρ ‖ H(ek) ‖ MAC: 3 chunks
	vectorBlobSize = mlkem768.VectorSize                              // t̂: 36 chunks
	ct1BlobSize    = mlkem768.Ciphertext1Size                         // 30 chunks
	ct2BlobSize    = mlkem768.Ciphertext2Size + authenticator.MACSize // ct2 ‖ MAC: 5 chunks
)

// phase is a position in one epoch of the exchange; the names are those of
// the SPQR v1 state machines.
type phase uint8

const (
	// send_ek: we own this epoch's key pair.
	keysUnsampled     phase = iota + 1 // no key pair yet
	keysSampled                        // streaming the header; no ct1 chunk seen
	headerSent                         // streaming t̂; collecting ct1
	ct1Received                        // streaming t̂; ct1 complete
	ekSentCt1Received                  // collecting ct2; acknowledging ct1

	// send_ct: we encapsulate to the peer's key.
	noHeaderReceived     // collecting the header
	headerReceived       // header verified; nothing sent yet
	ct1Sampled           // streaming ct1; collecting t̂
	ekReceivedCt1Sampled // streaming ct1; t̂ complete, waiting for the ct1 acknowledgement
	ct1Acknowledged      // ct1 acknowledged; collecting t̂
	ct2Sampled           // streaming ct2 until the peer moves to the next epoch

	lastPhase = ct2Sampled
)

var phaseNames = [...]string{
	keysUnsampled: "KeysUnsampled", keysSampled: "KeysSampled", headerSent: "HeaderSent",
	ct1Received: "Ct1Received", ekSentCt1Received: "EkSentCt1Received",
	noHeaderReceived: "NoHeaderReceived", headerReceived: "HeaderReceived", ct1Sampled: "Ct1Sampled",
	ekReceivedCt1Sampled: "EkReceivedCt1Sampled", ct1Acknowledged: "Ct1Acknowledged", ct2Sampled: "Ct2Sampled",
}

func (p phase) String() string {
	if p == 0 || p > lastPhase {
		return fmt.Sprintf("phase(%d)", uint8(p))
	}
	return phaseNames[p]
}

// State is one party's state of the braid. The zero value is not usable; use
// New or UnmarshalBinary.
type State struct {
	epoch uint64
	phase phase
	auth  authenticator.Authenticator

	seed [mlkem768.SeedSize]byte       // send_ek, keysSampled…ekSentCt1Received: our key pair
	dk   *mlkem768.DecapsulationKey    // the key pair expanded from seed; a cache, not serialized
	hdr  [mlkem768.HeaderSize]byte     // send_ct, headerReceived…ct1Acknowledged: the peer's header
	m    [mlkem768.RandomnessSize]byte // send_ct, ct1Sampled…ct1Acknowledged: encapsulation randomness

	// Public blobs, never modified once set, so that clones share them:
	// ct1 (send_ek from ct1Received, send_ct from ct1Sampled, until ct2 is
	// done) and the peer's t̂ (send_ct, ekReceivedCt1Sampled).
	ct1    *[mlkem768.Ciphertext1Size]byte
	vector *[mlkem768.VectorSize]byte

	enc *erasure.Encoder // the blob we are streaming, if any
	dec *erasure.Decoder // the blob we are collecting, if any
}

// An EpochSecret is the secret the braid agreed for an epoch, to be mixed into
// the symmetric chain.
type EpochSecret struct {
	Epoch  uint64
	Secret [32]byte
}

// New returns the state at the start of a session. The initiator (direction
// A2B in SPQR terms) owns the key pair of epoch 1; the responder encapsulates.
// authKey is the session's SPQR authentication key from PQXDH.
func New(authKey []byte, initiator bool) *State {
	s := &State{epoch: 1, auth: authenticator.New(authKey, 1)}
	if initiator {
		s.phase = keysUnsampled
	} else {
		s.phase = noHeaderReceived
		s.dec = mustDecoder(headerBlobSize)
	}
	return s
}

// Epoch returns the epoch the state is working on: the one whose key
// exchange is under way. Messages sent now carry it.
func (s *State) Epoch() uint64 { return s.epoch }

// Clone returns an independent copy of s. (The expanded key pair and the
// public blobs are shared: they are never modified.)
func (s *State) Clone() *State {
	c := new(State)
	s.CloneInto(c)
	return c
}

// CloneInto makes c a deep copy of s (for a caller that allocates c with
// other things).
func (s *State) CloneInto(c *State) {
	*c = *s
	if s.enc != nil {
		c.enc = s.enc.Clone()
	}
	if s.dec != nil {
		c.dec = s.dec.Clone()
	}
}

// Errors of Recv and UnmarshalBinary. Header and ciphertext MAC failures are
// authenticator.ErrHeaderMAC and authenticator.ErrCiphertextMAC.
var (
	// ErrEpoch reports a message from an epoch the state cannot have reached.
	ErrEpoch = errors.New("braid: message epoch is ahead of this session's SPQR state")
	// ErrKeyMismatch reports a key vector that does not match the header it
	// was announced with.
	ErrKeyMismatch = errors.New("braid: the peer's ML-KEM key does not match its authenticated header")
	// ErrState reports a serialized state that is malformed.
	ErrState = errors.New("braid: malformed serialized SPQR state")
)

func mustDecoder(size int) *erasure.Decoder {
	d, err := erasure.NewDecoder(size)
	if err != nil {
		panic("braid: " + err.Error()) // unreachable: the sizes are constants
	}
	return d
}

func mustEncoder(blob []byte) *erasure.Encoder {
	e, err := erasure.NewEncoder(blob)
	if err != nil {
		panic("braid: " + err.Error()) // unreachable: the sizes are constants
	}
	return e
}

// decapsulationKey returns our key pair, expanding it from its seed unless it
// is still cached from this process.
func (s *State) decapsulationKey() *mlkem768.DecapsulationKey {
	if s.dk == nil {
		dk, err := mlkem768.NewDecapsulationKey(s.seed[:])
		if err != nil {
			panic("braid: " + err.Error()) // unreachable: the seed has the right size
		}
		s.dk = dk
	}
	return s.dk
}

// random fills b from crypto/rand.
func random(b []byte) {
	if _, err := rand.Read(b); err != nil {
		panic("braid: crypto/rand failed: " + err.Error()) // crypto/rand does not fail in Go ≥ 1.24
	}
}

// Format, String and GoString keep the state's secrets out of logs; they
// show only the epoch and phase.
func (s State) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }
func (s State) String() string {
	return fmt.Sprintf("braid.State{epoch %d, %v, secrets redacted}", s.epoch, s.phase)
}
func (s State) GoString() string { return s.String() }

// Format, String and GoString keep the secret out of logs.
func (e EpochSecret) Format(f fmt.State, _ rune) { io.WriteString(f, e.String()) }
func (e EpochSecret) String() string {
	return fmt.Sprintf("braid.EpochSecret{epoch %d, redacted}", e.Epoch)
}
func (e EpochSecret) GoString() string { return e.String() }
