package ratchet

import (
	"github.com/skymsg/sky/protocol/internal/cbc"
	"github.com/skymsg/sky/protocol/message"
)

// Encrypt encrypts plaintext as the next message of the sending chain and
// advances the chain. addresses is the 36-byte addresses field to include
// (libsignal sends it only inside PreKeySignalMessages), or nil.
func (s *State) Encrypt(plaintext, addresses []byte) (*message.SignalMessage, error) {
	if s.sender.ratchet.Public.IsZero() {
		return nil, errNoSender
	}
	var pqBuf [64]byte // the SPQR message, copied into the message below
	pqMsg, pqKey, err := s.pq.AppendSend(pqBuf[:0])
	if err != nil {
		return nil, err
	}
	ck := s.sender.chain
	seed, next := ck.step()
	keys := deriveMessageKeys(seed, pqKey)
	defer keys.wipe()
	// The body is encrypted straight into the message's buffer.
	encrypt := func(dst []byte) []byte {
		out, err := cbc.Encrypt(dst, keys.cipher[:], keys.iv[:], plaintext)
		if err != nil {
			panic("ratchet: " + err.Error()) // unreachable: 32-byte key, 16-byte IV
		}
		return out
	}
	m := message.NewSignalMessage(message.SignalMessageFields{
		Version:         s.Version,
		RatchetKey:      s.sender.ratchet.Public,
		Counter:         ck.index,
		PreviousCounter: s.previousCounter,
		Encrypt:         encrypt,
		CiphertextLen:   cbc.CiphertextLen(len(plaintext)),
		PQRatchet:       pqMsg,
		Addresses:       addresses,
	}, keys.mac[:], s.LocalIdentity, s.RemoteIdentity)
	s.sender.chain = next
	return m, nil
}
