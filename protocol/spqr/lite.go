package spqr

import (
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
