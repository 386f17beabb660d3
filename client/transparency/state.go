package transparency

import (
	"encoding/binary"
	"errors"

	"github.com/skymsg/sky/keytrans"
)

// maxPeers bounds the confirmations kept (the newest win).
const maxPeers = 10000

// state is what the checker keeps: the newest head seen, the version of
// the own entry, and the last confirmation of each contact's key.
type state struct {
	head       *keytrans.Head
	ownVersion uint32
	peers      map[string]Confirmation
}

func (s *state) confirmed(peer string, key []byte, head uint64, auditor string) {
	if s.peers == nil {
		s.peers = map[string]Confirmation{}
	}
	if _, ok := s.peers[peer]; !ok && len(s.peers) >= maxPeers {
		for p := range s.peers {
			delete(s.peers, p)
			break
		}
	}
	s.peers[peer] = Confirmation{Key: append([]byte(nil), key...), Head: head, Auditor: auditor}
}

// encode: version 1, own version, head flag and head, then per peer its
// ID, key and auditor (2-byte lengths) and head size.
func (s *state) encode() []byte {
	b := []byte{1}
	b = binary.BigEndian.AppendUint32(b, s.ownVersion)
	if s.head == nil {
		b = append(b, 0)
	} else {
		b = append(append(b, 1), s.head.Encode()...)
	}
	for p, c := range s.peers {
		for _, f := range [][]byte{[]byte(p), c.Key, []byte(c.Auditor)} {
			b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
			b = append(b, f...)
		}
		b = binary.BigEndian.AppendUint64(b, c.Head)
	}
	return b
}

var errState = errors.New("malformed key directory state")

func decodeState(b []byte) (state, error) {
	var s state
	if len(b) < 6 || b[0] != 1 {
		return s, errState
	}
	s.ownVersion = binary.BigEndian.Uint32(b[1:])
	b = b[5:]
	switch {
	case b[0] == 0:
		b = b[1:]
	case b[0] == 1 && len(b) >= 1+keytrans.HeadSize:
		h, err := keytrans.DecodeHead(b[1 : 1+keytrans.HeadSize])
		if err != nil {
			return s, err
		}
		s.head, b = h, b[1+keytrans.HeadSize:]
	default:
		return s, errState
	}
	for len(b) > 0 {
		var f [3][]byte
		for i := range f {
			if len(b) < 2 || len(b) < 2+int(binary.BigEndian.Uint16(b)) {
				return s, errState
			}
			n := int(binary.BigEndian.Uint16(b))
			f[i], b = b[2:2+n], b[2+n:]
		}
		if len(b) < 8 {
			return s, errState
		}
		s.confirmed(string(f[0]), f[1], binary.BigEndian.Uint64(b), string(f[2]))
		b = b[8:]
	}
	return s, nil
}
