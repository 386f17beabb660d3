// Package spqr is the Sparse Post-Quantum Ratchet that runs beside the
// Double Ratchet, as libsignal 0.103 runs it (SPQR v1): every message carries
// an SPQR message, and the 32-byte key SPQR yields for it salts the Double
// Ratchet's message-key derivation.
//
// SPQR has two parts. The ML-KEM Braid (package braid) agrees a fresh
// post-quantum secret per epoch by streaming an ML-KEM-768 exchange in
// 32-byte erasure-coded chunks, one per message, the two parties swapping
// roles every epoch. The symmetric chain (chain.go) turns the session's
// authentication key and each epoch secret into one chain of message keys per
// direction and epoch. Together they give post-quantum forward secrecy and
// healing after compromise, sparse but continuous, as in Signal.
//
// Sessions started before this package had the braid ran "SPQR-lite": v1
// messages without payload in epoch 1, keys from the epoch-0 chain. Their
// stored state lacks the authentication key the braid needs, so such a
// session keeps working in that form (and interoperating, as libsignal
// accepts it) until it is replaced by a new session.
package spqr

import (
	"errors"
	"fmt"
	"io"

	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/spqr/braid"
)

// AuthKeySize is the size of the key PQXDH hands to SPQR.
const AuthKeySize = 32

// State is one session's SPQR state.
type State struct {
	chain *Chain
	// braid is nil for a session started under SPQR-lite (see the package
	// documentation).
	braid *braid.State
	// heard is set once a message from the peer was accepted; from then on
	// a message without SPQR is a version mismatch rather than a peer below
	// the minimum version (libsignal's version negotiation, V1 minimum V1).
	heard bool
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
	return &State{chain: NewChain(authKey, dir, p), braid: braid.New(authKey, dir == A2B)}, nil
}

// Send returns the SPQR message for the next outgoing message and the key
// that salts its message keys.
func (s *State) Send() (msg []byte, key [32]byte, err error) {
	return s.AppendSend(make([]byte, 0, 48))
}

// AppendSend is Send appending the SPQR message to dst (which may be a
// buffer on the caller's stack: a message is at most 48 bytes).
func (s *State) AppendSend(dst []byte) (msg []byte, key [32]byte, err error) {
	if s.braid == nil {
		return s.sendLite(dst)
	}
	m, sec, err := s.braid.Send()
	if err != nil {
		return nil, key, errs.Newf(errs.InvalidState, "spqr: %v", err)
	}
	if sec != nil {
		err := s.chain.AddEpoch(sec.Epoch, sec.Secret[:])
		clear(sec.Secret[:])
		if err != nil {
			return nil, key, err
		}
	}
	// Keys of epoch e-1 go with messages of epoch e: the newest epoch whose
	// secret the peer is sure to have.
	index, key, err := s.chain.SendKey(m.Epoch - 1)
	if err != nil {
		return nil, key, err
	}
	return braid.AppendMessage(dst, m, index), key, nil
}

// Recv reads the SPQR message of an incoming message and returns its key.
// On error s is unchanged. It is PlanRecv and ApplyRecv at once; a caller
// with more to check before the message counts (the ratchet, its MAC) calls
// them apart.
func (s *State) Recv(msg []byte) (key [32]byte, err error) {
	var p RecvPlan
	if key, err = s.PlanRecv(msg, &p); err != nil {
		return key, err
	}
	return key, s.ApplyRecv(&p)
}

// RecvPlan is an incoming SPQR message read and its key worked out by
// PlanRecv, with the change to the receiving chain it makes, not yet applied.
type RecvPlan struct {
	m     braid.Message
	link  int  // the chain epoch (index in Chain.links) the key came from
	half  half // that epoch's receiving half once the key is taken
	plans *State
}

// Wipe clears the key material a plan holds: the receiving chain's next
// seed and, for a plan never applied, its copy of the kept keys (an applied
// plan's kept keys are the state's own).
func (p *RecvPlan) Wipe() {
	if p.plans != nil {
		clear(p.half.kept)
	}
	*p = RecvPlan{}
}

// PlanRecv reads msg and works out its key without changing s: the key of a
// message of epoch e comes from chain epoch e-1, which the braid's answer to
// the message never changes. ApplyRecv then makes the change, if the caller
// accepts the message; until then a plan is just memory (a failed MAC leaves
// nothing to undo, and no copy of the state is needed).
func (s *State) PlanRecv(msg []byte, p *RecvPlan) (key [32]byte, err error) {
	m, index, err := braid.ParseMessage(msg)
	switch {
	case errors.Is(err, braid.ErrVersion0) && s.heard:
		return key, errs.New(errs.InvalidMessage, "spqr: version mismatch: the peer stopped sending SPQR messages")
	case errors.Is(err, braid.ErrVersion0):
		return key, errs.New(errs.InvalidMessage, "spqr: minimum version: the peer sent no SPQR message (version 0); SPQR v1 is required")
	case err != nil:
		return key, fmt.Errorf("%w: %w", errs.InvalidMessage, err)
	}
	if s.braid == nil {
		if m.Epoch != liteEpoch {
			return key, errs.Newf(errs.InvalidMessage, "spqr: message of epoch %d; this SPQR-lite session stays in epoch 1", m.Epoch)
		}
	} else if m.Epoch > s.braid.Epoch()+1 {
		// The braid refuses it (it could not be a step ahead at most);
		// say so rather than that its chain epoch is unknown.
		return key, fmt.Errorf("%w: spqr: %w", errs.InvalidMessage, braid.ErrEpoch)
	}
	if m.Epoch == 1 && index == 0 {
		return key, errs.New(errs.InvalidMessage, "spqr: message carries no key")
	}
	i, err := s.chain.linkIndex(m.Epoch - 1)
	if err != nil {
		return key, err
	}
	h := s.chain.links[i].recv
	h.kept = cloneKept(h.kept) // the plan's half must not share s's kept keys
	if key, err = h.key(index, s.chain.params); err != nil {
		clear(h.kept)
		return key, err
	}
	*p = RecvPlan{m: m, link: i, half: h, plans: s}
	return key, nil
}

// ApplyRecv makes the change p planned: the braid takes the message (which
// may complete an epoch, whose secret starts a new chain epoch) and the
// receiving chain moves past the key. p must come from PlanRecv on s, with
// s unchanged since. On error s is unchanged.
func (s *State) ApplyRecv(p *RecvPlan) error {
	if p.plans != s {
		return errs.New(errs.InvalidState, "spqr: a receive plan applied to another state")
	}
	if s.braid != nil && s.braid.MayYieldSecret(p.m) {
		if s.chain.currentEpoch+1 != s.braid.Epoch() {
			// A secret the braid yielded could not start a chain epoch
			// (the chain already has the braid's epoch; not a state the
			// braid reaches): work on a copy, so that the braid's change
			// can be dropped.
			c := s.Clone()
			if err := c.applyRecv(p); err != nil {
				return err
			}
			*s = *c
			return nil
		}
	}
	return s.applyRecv(p)
}

// applyRecv is ApplyRecv on a state whose chain can take the epoch secret
// the braid may yield (or on a copy).
func (s *State) applyRecv(p *RecvPlan) error {
	if s.braid != nil {
		sec, err := s.braid.Recv(p.m) // unchanged on error
		if err != nil {
			return fmt.Errorf("%w: spqr: %w", errs.InvalidMessage, err)
		}
		if sec != nil {
			err := s.chain.AddEpoch(sec.Epoch, sec.Secret[:])
			clear(sec.Secret[:])
			if err != nil {
				return err
			}
		}
	}
	// AddEpoch only appends epochs, so the planned one is where it was.
	s.chain.links[p.link].recv = p.half
	s.heard = true
	p.plans = nil // applied: its kept keys are the state's now
	return nil
}

// Epoch returns the SPQR epoch the state is working on (the epoch of the
// messages it sends now): 1 at the start of a session, rising as ML-KEM
// exchanges complete. An SPQR-lite session stays at 1.
func (s *State) Epoch() uint64 {
	if s.braid == nil {
		return liteEpoch
	}
	return s.braid.Epoch()
}

// Clone returns a deep copy of s.
func (s *State) Clone() *State { return s.CloneInto(new(Storage)) }

// CloneInto makes a deep copy of s in st and returns it. st may hold an
// earlier state, which the copy replaces.
func (s *State) CloneInto(st *Storage) *State {
	s.chain.cloneInto(&st.c)
	st.s = State{chain: &st.c.c, heard: s.heard}
	if s.braid != nil {
		s.braid.CloneInto(&st.b)
		st.s.braid = &st.b
	}
	return &st.s
}

// Format redacts the state under every fmt verb.
func (s State) Format(f fmt.State, _ rune) {
	io.WriteString(f, "<spqr.State: redacted>")
}
