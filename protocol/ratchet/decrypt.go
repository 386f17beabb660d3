package ratchet

import (
	"crypto/subtle"
	"math"
	"sort"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/internal/cbc"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/message"
	"github.com/skymsg/sky/protocol/spqr"
)

// DecryptOptions are the session-layer facts Decrypt needs.
type DecryptOptions struct {
	// Addresses is the addresses field this device expects from the sender
	// (sender service ID and device, then ours), or nil if the addresses are
	// not service IDs. A message carrying the field must match it.
	Addresses []byte
	// Self lifts the forward-jump limit, for sessions with one's own account.
	Self bool
}

// ratchetStep is a DH ratchet step worked out but not yet applied.
type ratchetStep struct {
	rootKey         [32]byte
	receiving       chainKey
	sender          senderChain
	previousCounter uint32
}

// Decrypt authenticates and decrypts m. On any error s is unchanged.
// Errors: ErrDuplicateMessage for a message whose key was already used,
// ErrInvalidMessage for anything else wrong with the message.
func (s *State) Decrypt(m *message.SignalMessage, opt DecryptOptions) ([]byte, error) {
	if m.Version != s.Version {
		return nil, errs.Newf(errs.InvalidMessage, "message version %d, session version %d", m.Version, s.Version)
	}
	ci := s.findReceiver(m.RatchetKey)
	var step *ratchetStep
	var ck chainKey
	if ci < 0 {
		st, err := s.planStep(m.RatchetKey)
		if err != nil {
			return nil, err
		}
		step, ck = st, st.receiving
	} else {
		ck = s.receivers[ci].chain
	}

	var seed [32]byte
	var newSkipped []skippedKey
	usedSkipped := -1
	if m.Counter < ck.index {
		if ci >= 0 {
			usedSkipped = s.receivers[ci].findSkipped(m.Counter)
		}
		if usedSkipped < 0 {
			return nil, errs.Newf(errs.DuplicateMessage, "counter %d already received (chain at %d)", m.Counter, ck.index)
		}
		seed = s.receivers[ci].skipped[usedSkipped].seed
	} else {
		limit := uint32(MaxForwardJump)
		if opt.Self {
			limit = math.MaxUint32
		}
		if m.Counter-ck.index > limit {
			return nil, errs.Newf(errs.InvalidMessage, "message from too far into the future (%d ahead)", m.Counter-ck.index)
		}
		newSkipped = skipTo(&ck, m.Counter)
		seed, ck = ck.step()
	}

	// SPQR's key is worked out without changing its state, which changes
	// only once the message has checked out (below).
	var pqPlan spqr.RecvPlan
	defer pqPlan.Wipe()
	pqKey, err := s.pq.PlanRecv(m.PQRatchet, &pqPlan)
	if err != nil {
		return nil, errs.Newf(errs.InvalidMessage, "post-quantum ratchet: %v", err)
	}
	keys := deriveMessageKeys(seed, pqKey)
	defer keys.wipe()
	if !m.VerifyMAC(keys.mac[:], s.RemoteIdentity, s.LocalIdentity) {
		return nil, errs.New(errs.InvalidMessage, "MAC verification failed")
	}
	if m.Addresses != nil && (opt.Addresses == nil || subtle.ConstantTimeCompare(m.Addresses, opt.Addresses) != 1) {
		return nil, errs.New(errs.InvalidMessage, "addresses field does not match sender and recipient")
	}
	plaintext, err := cbc.Decrypt(nil, keys.cipher[:], keys.iv[:], m.Ciphertext)
	if err != nil {
		return nil, errs.New(errs.InvalidMessage, "message body does not decrypt")
	}

	// Everything checked out: apply the changes, SPQR's first, as it may
	// still refuse the message (its braid checks what it carries), and
	// leaves its state unchanged when it does.
	if err := s.pq.ApplyRecv(&pqPlan); err != nil {
		clear(plaintext)
		return nil, errs.Newf(errs.InvalidMessage, "post-quantum ratchet: %v", err)
	}
	if step != nil {
		s.applyStep(step, m.RatchetKey)
		ci = len(s.receivers) - 1
	}
	rc := &s.receivers[ci]
	if usedSkipped >= 0 {
		rc.skipped = append(rc.skipped[:usedSkipped], rc.skipped[usedSkipped+1:]...)
	} else {
		rc.addSkipped(newSkipped)
		rc.chain = ck
	}
	return plaintext, nil
}

func (s *State) findReceiver(k curve.PublicKey) int {
	for i := range s.receivers {
		if s.receivers[i].ratchetKey == k {
			return i
		}
	}
	return -1
}

// planStep works out the DH ratchet step for a new ratchet key from the
// other side: a receiving chain from the current sending key, then a fresh
// sending key and chain.
func (s *State) planStep(theirs curve.PublicKey) (*ratchetStep, error) {
	if s.sender.ratchet.Public.IsZero() {
		return nil, errNoSender
	}
	root1, receiving, err := rootStep(s.rootKey, s.sender.ratchet.Private, theirs)
	if err != nil {
		return nil, errs.Newf(errs.InvalidMessage, "ratchet key rejected: %v", err)
	}
	kp := curve.GenerateKeyPair()
	root2, sending, err := rootStep(root1, kp.Private, theirs)
	if err != nil {
		return nil, errs.Newf(errs.InvalidMessage, "ratchet key rejected: %v", err)
	}
	prev := uint32(0)
	if s.sender.chain.index > 0 {
		prev = s.sender.chain.index - 1
	}
	return &ratchetStep{rootKey: root2, receiving: receiving, sender: senderChain{ratchet: kp, chain: sending}, previousCounter: prev}, nil
}

func (s *State) applyStep(st *ratchetStep, theirs curve.PublicKey) {
	s.rootKey = st.rootKey
	s.sender = st.sender
	s.previousCounter = st.previousCounter
	s.receivers = append(s.receivers, receiverChain{ratchetKey: theirs, chain: st.receiving})
	if n := len(s.receivers) - MaxReceiverChain; n > 0 {
		for i := 0; i < n; i++ {
			clear(s.receivers[i].skipped)
		}
		s.receivers = append(s.receivers[:0], s.receivers[n:]...)
	}
}

// skipTo advances ck to counter and returns the seeds of the messages
// skipped on the way, keeping only the last MaxSkippedKeys of them.
func skipTo(ck *chainKey, counter uint32) []skippedKey {
	n := counter - ck.index
	if n == 0 {
		return nil
	}
	keep := min(n, MaxSkippedKeys)
	out := make([]skippedKey, 0, keep)
	for ck.index < counter {
		if counter-ck.index <= keep {
			seed, next := ck.step()
			out = append(out, skippedKey{index: ck.index, seed: seed})
			*ck = next
		} else {
			*ck = ck.next()
		}
	}
	return out
}

func (r *receiverChain) findSkipped(counter uint32) int {
	i := sort.Search(len(r.skipped), func(i int) bool { return r.skipped[i].index >= counter })
	if i < len(r.skipped) && r.skipped[i].index == counter {
		return i
	}
	return -1
}

// addSkipped appends newer skipped keys and drops the oldest beyond the limit.
func (r *receiverChain) addSkipped(k []skippedKey) {
	r.skipped = append(r.skipped, k...)
	if n := len(r.skipped) - MaxSkippedKeys; n > 0 {
		clear(r.skipped[:n])
		r.skipped = append(r.skipped[:0], r.skipped[n:]...)
	}
}
