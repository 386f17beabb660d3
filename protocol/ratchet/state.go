// Package ratchet is one session's state of the triple ratchet libsignal
// 0.103 runs: the Double Ratchet (root key, a sending chain, up to five
// receiving chains with their skipped message keys) with SPQR beside it,
// plus what the session layer keeps with it (identities, the unacknowledged
// prekey message, registration IDs).
//
// Encrypt and Decrypt produce and consume message.SignalMessage values with
// AES-256-CBC bodies and 8-byte truncated HMAC-SHA256 tags. Decrypt is
// all-or-nothing: it works out every change first and applies them only
// after the MAC and the body check out, so a failed decryption leaves the
// State exactly as it was.
package ratchet

import (
	"fmt"
	"math"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/redact"
	"github.com/skymsg/sky/protocol/message"
	"github.com/skymsg/sky/protocol/pqxdh"
	"github.com/skymsg/sky/protocol/spqr"
)

// Limits, as libsignal sets them.
const (
	MaxForwardJump   = 25_000 // largest accepted counter step within a chain
	MaxSkippedKeys   = 2_000  // skipped message keys kept per receiving chain
	MaxReceiverChain = 5      // receiving chains kept
)

// State is one session state.
type State struct {
	Version              uint8
	LocalIdentity        curve.PublicKey
	RemoteIdentity       curve.PublicKey
	AliceBaseKey         curve.PublicKey // identifies the session: the initiator's PQXDH base key
	LocalRegistrationID  uint32
	RemoteRegistrationID uint32
	// Pending is set on the initiator's side until the first message from
	// the other side decrypts; while set, messages go out as
	// PreKeySignalMessages.
	Pending *Pending

	rootKey         [32]byte
	previousCounter uint32
	sender          senderChain
	receivers       []receiverChain // oldest first
	pq              *spqr.State
}

// Pending is what the initiator repeats in every PreKeySignalMessage until
// the session is acknowledged.
type Pending struct {
	HasPreKeyID     bool
	PreKeyID        uint32
	SignedPreKeyID  uint32
	KyberPreKeyID   uint32
	KyberCiphertext []byte
	BaseKey         curve.PublicKey
	Timestamp       uint64 // session creation, seconds since the Unix epoch
}

type senderChain struct {
	ratchet curve.KeyPair
	chain   chainKey
}

type receiverChain struct {
	ratchetKey curve.PublicKey
	chain      chainKey
	skipped    []skippedKey // ascending by index; at most MaxSkippedKeys
}

// skippedKey is the message seed of a message not yet received.
type skippedKey struct {
	index uint32
	seed  [32]byte
}

func spqrParams(self bool) spqr.Params {
	p := spqr.Params{MaxJump: MaxForwardJump, MaxOutOfOrder: MaxSkippedKeys}
	if self {
		p.MaxJump = math.MaxUint32
	}
	return p
}

// Alice holds what the initiator's state is built from.
type Alice struct {
	Secrets           pqxdh.Secrets
	LocalIdentity     curve.PublicKey
	RemoteIdentity    curve.PublicKey
	BaseKey           curve.PublicKey
	TheirSignedPreKey curve.PublicKey // Bob's first ratchet key
	Self              bool            // a session with one's own account: no jump limit
}

// NewAlice builds the initiator's state: a fresh sending ratchet key, the
// root step against Bob's signed prekey, and a receiving chain on that
// prekey with PQXDH's chain key.
func NewAlice(p *Alice) (*State, error) {
	kp := curve.GenerateKeyPair()
	root, sending, err := rootStep(p.Secrets.RootKey, kp.Private, p.TheirSignedPreKey)
	if err != nil {
		return nil, err
	}
	pq, err := spqr.NewState(p.Secrets.SPQRKey[:], spqr.A2B, spqrParams(p.Self))
	if err != nil {
		return nil, err
	}
	return &State{
		Version:        message.CurrentVersion,
		LocalIdentity:  p.LocalIdentity,
		RemoteIdentity: p.RemoteIdentity,
		AliceBaseKey:   p.BaseKey,
		rootKey:        root,
		sender:         senderChain{ratchet: kp, chain: sending},
		receivers:      []receiverChain{{ratchetKey: p.TheirSignedPreKey, chain: chainKey{key: p.Secrets.ChainKey}}},
		pq:             pq,
	}, nil
}

// Bob holds what the recipient's state is built from.
type Bob struct {
	Secrets        pqxdh.Secrets
	LocalIdentity  curve.PublicKey
	RemoteIdentity curve.PublicKey
	TheirBaseKey   curve.PublicKey
	SignedPreKey   curve.KeyPair // Bob's first ratchet key
	Self           bool
}

// NewBob builds the recipient's state: PQXDH's root key, and a sending
// chain on the signed prekey with PQXDH's chain key.
func NewBob(p *Bob) (*State, error) {
	pq, err := spqr.NewState(p.Secrets.SPQRKey[:], spqr.B2A, spqrParams(p.Self))
	if err != nil {
		return nil, err
	}
	return &State{
		Version:        message.CurrentVersion,
		LocalIdentity:  p.LocalIdentity,
		RemoteIdentity: p.RemoteIdentity,
		AliceBaseKey:   p.TheirBaseKey,
		rootKey:        p.Secrets.RootKey,
		sender:         senderChain{ratchet: p.SignedPreKey, chain: chainKey{key: p.Secrets.ChainKey}},
		pq:             pq,
	}, nil
}

// SenderRatchetKey returns the current sending ratchet public key.
func (s *State) SenderRatchetKey() curve.PublicKey { return s.sender.ratchet.Public }

// ReceiverChains returns how many receiving chains s keeps.
func (s *State) ReceiverChains() int { return len(s.receivers) }

// SkippedKeys returns how many skipped message keys s keeps in all.
func (s *State) SkippedKeys() int {
	n := 0
	for i := range s.receivers {
		n += len(s.receivers[i].skipped)
	}
	return n
}

// Clone returns a deep copy of s.
func (s *State) Clone() *State {
	c := *s
	if s.Pending != nil {
		p := *s.Pending
		p.KyberCiphertext = append([]byte(nil), p.KyberCiphertext...)
		c.Pending = &p
	}
	c.receivers = make([]receiverChain, len(s.receivers))
	for i, r := range s.receivers {
		c.receivers[i] = r
		c.receivers[i].skipped = append([]skippedKey(nil), r.skipped...)
	}
	c.pq = s.pq.Clone()
	return &c
}

// Format redacts the state's keys under every fmt verb.
func (s State) Format(f fmt.State, _ rune) { redact.Format(f, "ratchet.State") }

// errNoSender is returned for a state without a sending chain, which only a
// corrupt record can produce.
var errNoSender = errs.New(errs.InvalidState, "session state has no sending chain")
