package senderkey

import (
	"encoding/binary"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/pb"
)

// recordFormat is the first byte of an encoded record; a record of any other
// format is refused, so a future format can be told apart.
const recordFormat = 1

// skippedEntrySize is the size of one skipped key in the encoding:
// big-endian iteration (4) and seed (32).
const skippedEntrySize = 4 + 32

// MarshalBinary encodes the record in Sky's own format (not libsignal's):
//
//	0x01 || protobuf {1: state, repeated, newest first}
//	state = {1: chain ID, 2: iteration, 3: chain key (32), 4: signing key (33),
//	         5: private signing key (32, own chains only),
//	         6: skipped keys, each BE32(iteration) || seed(32), oldest first,
//	         7: message version}
//
// The result holds secret keys.
func (r *Record) MarshalBinary() ([]byte, error) {
	size := 1
	for _, st := range r.states {
		size += 120 + len(st.skipped)*skippedEntrySize
	}
	b := make([]byte, 0, size)
	b = append(b, recordFormat)
	for _, st := range r.states {
		b = pb.AppendMessage(b, 1, st.append)
	}
	return b, nil
}

func (st *state) append(b []byte) []byte {
	b = pb.AppendUint64(b, 1, uint64(st.chainID))
	b = pb.AppendUint64(b, 2, uint64(st.chain.iteration))
	b = pb.AppendBytes(b, 3, st.chain.seed[:])
	b = pb.AppendBytes(b, 4, st.signingKey.Bytes())
	if st.signingPriv != nil {
		b = pb.AppendBytes(b, 5, st.signingPriv.Bytes())
	}
	if len(st.skipped) > 0 {
		packed := make([]byte, 0, len(st.skipped)*skippedEntrySize)
		for _, k := range st.skipped {
			packed = binary.BigEndian.AppendUint32(packed, k.iteration)
			packed = append(packed, k.seed[:]...)
		}
		b = pb.AppendBytes(b, 6, packed)
	}
	return pb.AppendUint64(b, 7, Version)
}

// ParseRecord decodes a record written by MarshalBinary. Every field is
// checked: at most MaxStates chains and MaxSkippedKeys skipped keys each,
// skipped keys below the chain's iteration, keys of the right sizes, a
// private signing key that matches the public one. Errors wrap
// protocol.ErrInvalidState.
func ParseRecord(b []byte) (*Record, error) {
	if len(b) == 0 || b[0] != recordFormat {
		return nil, invalidState("unknown record format")
	}
	r := &Record{}
	rd := pb.NewReader(b[1:])
	for {
		num, ok := rd.Next()
		if !ok {
			break
		}
		if num != 1 {
			rd.Skip(num)
			continue
		}
		v := rd.Bytes()
		if rd.Err() != nil {
			break
		}
		if len(r.states) == MaxStates {
			return nil, invalidState("more than %d chains", MaxStates)
		}
		st, err := parseState(v)
		if err != nil {
			return nil, err
		}
		r.states = append(r.states, st)
	}
	if rd.Err() != nil {
		return nil, invalidState("%v", rd.Err())
	}
	return r, nil
}

func parseState(b []byte) (*state, error) {
	st := &state{}
	var (
		seed, pub, priv, skipped []byte
		version                  uint32
	)
	r := pb.NewReader(b)
	for {
		num, ok := r.Next()
		if !ok {
			break
		}
		switch num {
		case 1:
			st.chainID = r.Uint32()
		case 2:
			st.chain.iteration = r.Uint32()
		case 3:
			seed = r.Bytes()
		case 4:
			pub = r.Bytes()
		case 5:
			priv = r.Bytes()
		case 6:
			skipped = r.Bytes()
		case 7:
			version = r.Uint32()
		default:
			r.Skip(num)
		}
	}
	switch {
	case r.Err() != nil:
		return nil, invalidState("%v", r.Err())
	case version != Version:
		return nil, invalidState("chain of message version %d", version)
	case len(seed) != ChainKeySize:
		return nil, invalidState("chain key of %d bytes", len(seed))
	case len(skipped)%skippedEntrySize != 0 || len(skipped)/skippedEntrySize > MaxSkippedKeys:
		return nil, invalidState("skipped keys field of %d bytes", len(skipped))
	}
	copy(st.chain.seed[:], seed)
	var err error
	if st.signingKey, err = curve.ParsePublicKey(pub); err != nil {
		return nil, invalidState("signing key: %s", errs.Detail(err))
	}
	if priv != nil {
		p, err := curve.ParsePrivateKey(priv)
		if err != nil || p.PublicKey() != st.signingKey {
			return nil, invalidState("the private signing key is malformed or not the signing key's")
		}
		st.signingPriv = &p
	}
	for len(skipped) > 0 {
		k := messageKey{iteration: binary.BigEndian.Uint32(skipped)}
		copy(k.seed[:], skipped[4:skippedEntrySize])
		if k.iteration >= st.chain.iteration {
			return nil, invalidState("skipped key %d not below the chain's iteration %d", k.iteration, st.chain.iteration)
		}
		st.skipped = append(st.skipped, k)
		skipped = skipped[skippedEntrySize:]
	}
	return st, nil
}
