package spqr

import (
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/spqr/braid"
)

// liteEpoch is the epoch of every SPQR-lite message; its keys come from
// chain epoch liteEpoch-1 = 0.
const liteEpoch = 1

// sendLite sends as SPQR-lite did: no payload, epoch 1, the next key of the
// epoch-0 chain.
func (s *State) sendLite(dst []byte) (msg []byte, key [32]byte, err error) {
	index, key, err := s.chain.SendKey(liteEpoch - 1)
	if err != nil {
		return nil, key, err
	}
	m := braid.Message{Epoch: liteEpoch, Type: braid.MsgNone}
	return braid.AppendMessage(dst, m, index), key, nil
}

// recvLite receives as SPQR-lite did: the payload is ignored and the key
// taken from the epoch-0 chain. A peer that runs the braid stays in epoch 1
// with such a session, as libsignal does.
func (s *State) recvLite(m braid.Message, index uint32) (key [32]byte, err error) {
	if m.Epoch != liteEpoch {
		return key, errs.Newf(errs.InvalidMessage, "spqr: message of epoch %d; this SPQR-lite session stays in epoch 1", m.Epoch)
	}
	if index == 0 {
		return key, errs.New(errs.InvalidMessage, "spqr: message carries no key")
	}
	return s.chain.RecvKey(liteEpoch-1, index)
}
