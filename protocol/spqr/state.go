// Package spqr is the Sparse Post-Quantum Ratchet that runs beside the
// Double Ratchet: every message carries an SPQR message, and the 32-byte key
// SPQR yields for it salts the Double Ratchet's message-key derivation.
//
// This is SPQR-lite, the minimal form libsignal 0.103 accepts: NO
// POST-QUANTUM RATCHETING YET. Sky sends well-formed SPQR v1 messages with
// no payload, always in epoch 1, with keys from the epoch-0 symmetric chain
// seeded by PQXDH; it reads the peer's version, epoch and index, ignores any
// payload, and takes keys from the same chain. Sessions are post-quantum
// secure only through PQXDH's Kyber1024 exchange; there is no post-quantum
// forward secrecy or healing after it. The full ML-KEM Braid (issue 3) will
// replace State behind the same API; chain.go is shared with it.
package spqr

import (
	"fmt"

	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/redact"
)

// AuthKeySize is the size of the key PQXDH hands to SPQR.
const AuthKeySize = 32

// liteEpoch is the epoch of every SPQR-lite message; its keys come from
// chain epoch liteEpoch-1 = 0.
const liteEpoch = 1

// State is one session's SPQR state.
type State struct {
	chain *Chain
}

// NewState starts SPQR for a new session. dir is A2B for the session's
// initiator and B2A for its recipient.
func NewState(authKey []byte, dir Direction, p Params) (*State, error) {
	if len(authKey) != AuthKeySize {
		return nil, errs.Newf(errs.InvalidState, "spqr: authentication key of %d bytes, want 32", len(authKey))
	}
	if dir != A2B && dir != B2A {
		return nil, errs.Newf(errs.InvalidState, "spqr: unknown direction %d", dir)
	}
	return &State{chain: NewChain(authKey, dir, p)}, nil
}

// Send returns the SPQR message for the next outgoing message and the key
// that salts its message keys.
func (s *State) Send() (msg []byte, key [32]byte, err error) {
	index, key, err := s.chain.SendKey(liteEpoch - 1)
	if err != nil {
		return nil, key, err
	}
	m := Message{Epoch: liteEpoch, Index: index, Type: TypeNone}
	return m.Append(make([]byte, 0, 8)), key, nil
}

// Recv reads the SPQR message of an incoming message and returns its key.
// On error s may have changed; callers that must not lose state work on a
// Clone (the ratchet does).
func (s *State) Recv(msg []byte) (key [32]byte, err error) {
	m, err := ParseMessage(msg)
	if err != nil {
		return key, err
	}
	if m.Epoch != liteEpoch {
		return key, errs.Newf(errs.InvalidMessage, "spqr: message of epoch %d; this SPQR-lite session stays in epoch 1", m.Epoch)
	}
	if m.Index == 0 {
		return key, errs.New(errs.InvalidMessage, "spqr: message carries no key")
	}
	return s.chain.RecvKey(m.Epoch-1, m.Index)
}

// Clone returns a deep copy of s.
func (s *State) Clone() *State { return &State{chain: s.chain.Clone()} }

// Format redacts the state under every fmt verb.
func (s *State) Format(f fmt.State, _ rune) { redact.Format(f, "spqr.State") }
