package spqr

import (
	"encoding/binary"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/pb"
	"github.com/skymsg/sky/protocol/spqr/braid"
)

// The first byte of an encoded State says its format.
const (
	// formatLite: SPQR-lite, written by sessions before the braid; the
	// chain follows.
	formatLite = 0x01
	// formatBraid: the full SPQR; protobuf fields follow: 1 heard (a
	// message from the peer was accepted; omitted if not), 2 the chain, 3
	// the braid state.
	formatBraid = 0x02
)

// MarshalBinary encodes s.
func (s *State) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, 1600))
}

// AppendBinary appends the encoding of s to b (encoding.BinaryAppender).
func (s *State) AppendBinary(b []byte) ([]byte, error) {
	if s.braid == nil {
		b = append(b, formatLite)
		return s.chain.Append(b), nil
	}
	b = append(b, formatBraid)
	if s.heard {
		b = pb.AppendBool(b, 1, true)
	}
	b = pb.AppendMessage(b, 2, s.chain.Append)
	var err error
	b = pb.AppendMessage(b, 3, func(b []byte) []byte {
		b, err = s.braid.AppendBinary(b)
		return b
	})
	return b, err
}

// Storage is room for a State and the parts it points to (its chain with
// the chain's usual epochs, and the braid), so that a caller can decode or
// clone a State inside an allocation of its own: the ratchet decodes a
// session state and its SPQR state in one.
type Storage struct {
	s State
	c chainAlloc
	b braid.State
}

// UnmarshalBinary decodes what MarshalBinary wrote, in either format.
func (s *State) UnmarshalBinary(b []byte) error {
	n, err := UnmarshalInto(new(Storage), b)
	if err == nil {
		*s = *n
	}
	return err
}

// UnmarshalInto decodes what MarshalBinary wrote, in either format, into
// st and returns the State, which lives in st.
func UnmarshalInto(st *Storage, b []byte) (*State, error) {
	if len(b) == 0 {
		return nil, errs.New(errs.InvalidState, "spqr: empty state")
	}
	switch b[0] {
	case formatLite:
		c, err := parseChainInto(&st.c, b[1:])
		if err != nil {
			return nil, err
		}
		st.s = State{chain: c}
		return &st.s, nil
	case formatBraid:
		if err := st.unmarshalBraid(b[1:]); err != nil {
			return nil, err
		}
		return &st.s, nil
	}
	return nil, errs.New(errs.InvalidState, "spqr: unknown state format")
}

func (st *Storage) unmarshalBraid(b []byte) error {
	var heard bool
	var chain, br []byte
	r := pb.NewReader(b)
	for {
		num, ok := r.Next()
		if !ok {
			break
		}
		switch num {
		case 1:
			heard = r.Bool()
		case 2:
			chain = r.Bytes()
		case 3:
			br = r.Bytes()
		default:
			r.Skip(num)
		}
	}
	if r.Err() != nil || chain == nil || br == nil {
		return errs.New(errs.InvalidState, "spqr: malformed state")
	}
	c, err := parseChainInto(&st.c, chain)
	if err != nil {
		return err
	}
	if err := st.b.UnmarshalBinary(br); err != nil {
		return errs.Newf(errs.InvalidState, "spqr: %v", err)
	}
	// The chain holds the secrets of every finished epoch and, once the
	// encapsulator has sent ct1, of the current one.
	if e := st.b.Epoch(); c.Epoch()+1 != e && c.Epoch() != e {
		return errs.Newf(errs.InvalidState, "spqr: chain at epoch %d, braid at epoch %d", c.Epoch(), e)
	}
	st.s = State{chain: c, braid: &st.b, heard: heard}
	return nil
}

// Chain encoding (protobuf fields, in this order):
//
//	1 direction, 2 current epoch, 3 sending epoch, 4 next root (32 bytes),
//	5 max jump, 6 max out-of-order, 7 link (repeated, oldest first):
//	  1 send half, 2 receive half:
//	    1 counter, 2 seed (32 bytes, absent once retired),
//	    3 kept keys (36 bytes each: BE32 index || key, ascending)

// Append appends the encoding of c to b.
func (c *Chain) Append(b []byte) []byte {
	b = pb.AppendUint64(b, 1, uint64(c.dir))
	b = pb.AppendUint64(b, 2, c.currentEpoch)
	b = pb.AppendUint64(b, 3, c.sendEpoch)
	b = pb.AppendBytes(b, 4, c.nextRoot[:])
	b = pb.AppendUint64(b, 5, uint64(c.params.MaxJump))
	b = pb.AppendUint64(b, 6, uint64(c.params.MaxOutOfOrder))
	for i := range c.links {
		l := &c.links[i]
		b = pb.AppendMessage(b, 7, func(b []byte) []byte {
			b = pb.AppendMessage(b, 1, l.send.append)
			return pb.AppendMessage(b, 2, l.recv.append)
		})
	}
	return b
}

func (h *half) append(b []byte) []byte {
	b = pb.AppendUint64(b, 1, uint64(h.ctr))
	if h.hasSeed {
		b = pb.AppendBytes(b, 2, h.seed[:])
	}
	if len(h.kept) > 0 {
		b = pb.AppendMessage(b, 3, func(b []byte) []byte {
			for _, k := range h.kept {
				b = binary.BigEndian.AppendUint32(b, k.index)
				b = append(b, k.key[:]...)
			}
			return b
		})
	}
	return b
}

// maxLinks bounds the epochs a decoded chain may hold; a live chain keeps
// the sending epoch, one before it, and the epochs after it.
const maxLinks = 64

// ParseChain decodes a chain encoded by Append, checking every field and
// the invariants the chain relies on.
func ParseChain(b []byte) (*Chain, error) {
	// One allocation for the chain and its usual one or two epochs.
	return parseChainInto(new(chainAlloc), b)
}

// parseChainInto is ParseChain decoding into a, which the caller allocated
// (with other things, to save an allocation).
func parseChainInto(a *chainAlloc, b []byte) (*Chain, error) {
	c := &a.c
	c.links = a.l[:0]
	r := pb.NewReader(b)
	for {
		num, ok := r.Next()
		if !ok {
			break
		}
		switch num {
		case 1:
			c.dir = Direction(r.Uint64())
		case 2:
			c.currentEpoch = r.Uint64()
		case 3:
			c.sendEpoch = r.Uint64()
		case 4:
			r.Fixed(c.nextRoot[:])
		case 5:
			c.params.MaxJump = r.Uint32()
		case 6:
			c.params.MaxOutOfOrder = r.Uint32()
		case 7:
			if len(c.links) == maxLinks {
				return nil, errs.New(errs.InvalidState, "spqr: chain holds too many epochs")
			}
			l, err := parseLink(r.Bytes(), c.params.withDefaults())
			if err != nil {
				return nil, err
			}
			c.links = append(c.links, l)
		default:
			r.Skip(num)
		}
	}
	if r.Err() != nil {
		return nil, errs.Newf(errs.InvalidState, "spqr: chain: %v", r.Err())
	}
	for _, n := range []protowire.Number{1, 2, 3, 4, 5, 6} {
		if !r.Seen(n) {
			return nil, errs.Newf(errs.InvalidState, "spqr: chain lacks field %d", n)
		}
	}
	switch {
	case c.dir != A2B && c.dir != B2A:
		return nil, errs.New(errs.InvalidState, "spqr: chain has an unknown direction")
	case len(c.links) == 0 || uint64(len(c.links)) > c.currentEpoch+1:
		return nil, errs.New(errs.InvalidState, "spqr: chain epochs are inconsistent")
	case c.sendEpoch > c.currentEpoch || c.currentEpoch-c.sendEpoch >= uint64(len(c.links)):
		return nil, errs.New(errs.InvalidState, "spqr: chain sending epoch is inconsistent")
	case c.params.MaxJump == 0 || c.params.MaxOutOfOrder == 0:
		return nil, errs.New(errs.InvalidState, "spqr: chain limits are missing")
	}
	return c, nil
}

func parseLink(b []byte, p Params) (link, error) {
	var l link
	r := pb.NewReader(b)
	for {
		num, ok := r.Next()
		if !ok {
			break
		}
		switch num {
		case 1, 2:
			h, err := parseHalf(r.Bytes(), p)
			if err != nil {
				return l, err
			}
			if num == 1 {
				l.send = h
			} else {
				l.recv = h
			}
		default:
			r.Skip(num)
		}
	}
	if r.Err() != nil || !r.Seen(1, 2) {
		return l, errs.New(errs.InvalidState, "spqr: malformed chain epoch")
	}
	return l, nil
}

func parseHalf(b []byte, p Params) (half, error) {
	var h half
	r := pb.NewReader(b)
	var kept []byte
	for {
		num, ok := r.Next()
		if !ok {
			break
		}
		switch num {
		case 1:
			h.ctr = r.Uint32()
		case 2:
			r.Fixed(h.seed[:])
			h.hasSeed = true
		case 3:
			kept = r.Bytes()
		default:
			r.Skip(num)
		}
	}
	if r.Err() != nil {
		return h, errs.Newf(errs.InvalidState, "spqr: chain direction: %v", r.Err())
	}
	const size = 4 + 32
	if len(kept)%size != 0 || len(kept)/size > int(p.MaxOutOfOrder)+1 {
		return h, errs.New(errs.InvalidState, "spqr: kept keys malformed or too many")
	}
	for i := 0; i < len(kept); i += size {
		k := keptKey{index: binary.BigEndian.Uint32(kept[i:])}
		copy(k.key[:], kept[i+4:i+size])
		if k.index == 0 || k.index >= h.ctr || len(h.kept) > 0 && k.index <= h.kept[len(h.kept)-1].index {
			return h, errs.New(errs.InvalidState, "spqr: kept keys out of order")
		}
		h.kept = append(h.kept, k)
	}
	return h, nil
}
