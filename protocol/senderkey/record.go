package senderkey

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/internal/cbc"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/redact"
)

// Record is what a device knows about one sender's key for one
// distribution: up to MaxStates chains, newest first. The sender's own
// record holds the private signing key; receivers' records do not. The zero
// value is an empty record. A Record is not safe for concurrent use.
type Record struct {
	states []*state
}

// state is one chain of a record.
type state struct {
	chainID     uint32
	chain       chainKey
	signingKey  curve.PublicKey
	signingPriv *curve.PrivateKey // only in the sender's own record
	skipped     []messageKey      // oldest first, at most MaxSkippedKeys
}

// NewRecord returns an empty record.
func NewRecord() *Record { return &Record{} }

// States returns the number of chains in the record.
func (r *Record) States() int { return len(r.states) }

// generate returns a fresh sending chain: a random 31-bit chain ID (as
// libsignal and libsignal-protocol-java make them), iteration 0, a random
// chain key and a new signing key pair.
func generate() *state {
	var b [4 + ChainKeySize]byte
	rand.Read(b[:])
	kp := curve.GenerateKeyPair()
	st := &state{chainID: binary.LittleEndian.Uint32(b[:4]) >> 1, signingKey: kp.Public, signingPriv: &kp.Private}
	copy(st.chain.seed[:], b[4:])
	return st
}

// add makes st the newest chain, as libsignal's add_sender_key_state does:
// a chain with the same ID and signing key is kept as it is (and moved to the
// front) instead of st; chains with the same ID and another key are dropped;
// the oldest chains go when there are more than MaxStates.
func (r *Record) add(st *state) {
	keep := st
	r.states = slices.DeleteFunc(r.states, func(old *state) bool {
		if old.chainID != st.chainID {
			return false
		}
		if old.signingKey == st.signingKey && keep == st {
			keep = old
		}
		return true
	})
	if len(r.states) >= MaxStates {
		r.states = r.states[:MaxStates-1]
	}
	r.states = slices.Insert(r.states, 0, keep)
}

// Process adds the chain a distribution message hands over.
func (r *Record) Process(m *DistributionMessage) {
	r.add(&state{chainID: m.ChainID, chain: chainKey{iteration: m.Iteration, seed: m.ChainKey}, signingKey: m.SigningKey})
}

// DistributionMessage returns the distribution message of the newest chain,
// carrying its current iteration and chain key.
func (r *Record) DistributionMessage(id DistributionID) (*DistributionMessage, error) {
	if len(r.states) == 0 {
		return nil, noSenderKey("the record of distribution %s is empty", id)
	}
	st := r.states[0]
	return &DistributionMessage{DistributionID: id, ChainID: st.chainID, Iteration: st.chain.iteration,
		ChainKey: st.chain.seed, SigningKey: st.signingKey}, nil
}

// Encrypt encrypts plaintext with the newest chain, which must be this
// device's own (hold the private signing key), and advances the chain.
func (r *Record) Encrypt(id DistributionID, plaintext []byte) (*Message, error) {
	if len(r.states) == 0 {
		return nil, noSenderKey("this device has no sender key for distribution %s", id)
	}
	st := r.states[0]
	if st.signingPriv == nil {
		return nil, noSenderKey("the sender key of distribution %s is another device's", id)
	}
	next, ok := st.chain.next()
	if !ok {
		return nil, invalidState("the sending chain of distribution %s is exhausted; create a new sender key", id)
	}
	iv, key := st.chain.messageKey().keys()
	ct, err := cbc.Encrypt(nil, key, iv, plaintext)
	if err != nil {
		return nil, invalidState("cannot encrypt: %v", err)
	}
	m := newMessage(id, st.chainID, st.chain.iteration, ct, *st.signingPriv)
	st.chain = next
	return m, nil
}

// Decrypt checks m's signature with the key of its chain and decrypts it.
// The record changes only when it succeeds. Errors: protocol.ErrNoSession
// (no chain with m's ID), ErrInvalidSignature, ErrDuplicateMessage (an
// iteration already decrypted), ErrInvalidMessage (too far ahead, or the
// ciphertext does not decrypt).
func (r *Record) Decrypt(m *Message) ([]byte, error) {
	i := slices.IndexFunc(r.states, func(st *state) bool { return st.chainID == m.ChainID })
	if i < 0 {
		return nil, noSenderKey("no chain %d for distribution %s", m.ChainID, m.DistributionID)
	}
	st := r.states[i]
	if !m.verify(st.signingKey) {
		return nil, badSignature()
	}
	mk, commit, err := st.keyFor(m.Iteration)
	if err != nil {
		return nil, err
	}
	iv, key := mk.keys()
	pt, err := cbc.Decrypt(nil, key, iv, m.Ciphertext)
	if err != nil {
		return nil, invalidMessage("decryption failed (bad length or padding)")
	}
	commit()
	return pt, nil
}

// keyFor finds the message key of iteration without changing st, and
// returns the change that using it makes: removing a skipped key, or
// storing the keys jumped over and advancing the chain.
func (st *state) keyFor(iteration uint32) (messageKey, func(), error) {
	cur := st.chain.iteration
	if iteration < cur {
		i := slices.IndexFunc(st.skipped, func(k messageKey) bool { return k.iteration == iteration })
		if i < 0 {
			return messageKey{}, nil, errs.Newf(errs.DuplicateMessage,
				"group message of iteration %d, chain %d already decrypted (chain at %d)", iteration, st.chainID, cur)
		}
		return st.skipped[i], func() { st.skipped = slices.Delete(st.skipped, i, i+1) }, nil
	}
	if iteration-cur > MaxForwardJump {
		return messageKey{}, nil, invalidMessage("iteration %d is too far into the future (chain at %d, at most %d ahead)",
			iteration, cur, MaxForwardJump)
	}
	// Only the last MaxSkippedKeys skipped keys can survive the trim.
	keepFrom := uint32(0)
	if iteration > MaxSkippedKeys {
		keepFrom = iteration - MaxSkippedKeys
	}
	var jumped []messageKey
	c := st.chain
	for c.iteration < iteration {
		if c.iteration >= keepFrom {
			jumped = append(jumped, c.messageKey())
		}
		c, _ = c.next() // c.iteration < iteration, so the chain goes on
	}
	next, ok := c.next()
	if !ok {
		return messageKey{}, nil, invalidMessage("iteration %d ends the chain", iteration)
	}
	mk := c.messageKey()
	return mk, func() {
		skipped := append(st.skipped, jumped...)
		if extra := len(skipped) - MaxSkippedKeys; extra > 0 {
			skipped = slices.Clone(skipped[extra:])
		}
		st.skipped = skipped
		st.chain = next
	}, nil
}

// Format describes the record without its keys, whatever the verb.
func (r Record) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "senderkey.Record{")
	for i, st := range r.states {
		if i > 0 {
			fmt.Fprint(f, " ")
		}
		fmt.Fprintf(f, "{ChainID:%d Iteration:%d Skipped:%d Own:%v Keys:%s}", st.chainID, st.chain.iteration,
			len(st.skipped), st.signingPriv != nil, redact.String("senderkey.Record"))
	}
	fmt.Fprint(f, "}")
}

// String describes the record without its keys.
func (r Record) String() string { return fmt.Sprint(r) }

// GoString describes the record without its keys.
func (r Record) GoString() string { return fmt.Sprint(r) }
