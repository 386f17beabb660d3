package ratchet

import (
	"encoding/binary"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/pb"
	"github.com/skymsg/sky/protocol/kem"
	"github.com/skymsg/sky/protocol/spqr"
)

// formatV1 is the first byte of an encoded State.
const formatV1 = 0x01

// State encoding: the format byte, then protobuf fields in this order:
//
//	1 session version           7 receiving chain (repeated, oldest first):
//	2 local identity key (33)     1 ratchet key (33), 2 chain key (32), 3 index,
//	3 remote identity key (33)    4 skipped keys (36 bytes each: BE32 index || seed)
//	4 root key (32)             8 SPQR state
//	5 previous counter          9 Alice's base key (33)
//	6 sending chain:            10 pending prekey message:
//	  1 ratchet key (33),         1 one-time prekey ID (absent if none), 2 signed prekey ID,
//	  2 ratchet private key (32), 3 Kyber prekey ID, 4 Kyber ciphertext (1569),
//	  3 chain key (32), 4 index   5 base key (33), 6 timestamp
//	                            11 local registration ID, 12 remote registration ID

// MarshalBinary encodes s. The result holds secret keys.
func (s *State) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, 640))
}

// AppendBinary appends the encoding of s to b.
func (s *State) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, formatV1)
	b = pb.AppendUint64(b, 1, uint64(s.Version))
	b = appendKey(b, 2, s.LocalIdentity)
	b = appendKey(b, 3, s.RemoteIdentity)
	b = pb.AppendBytes(b, 4, s.rootKey[:])
	b = pb.AppendUint64(b, 5, uint64(s.previousCounter))
	b = pb.AppendMessage(b, 6, func(b []byte) []byte {
		b = appendKey(b, 1, s.sender.ratchet.Public)
		b = pb.AppendBytes(b, 2, s.sender.ratchet.Private.Bytes())
		b = pb.AppendBytes(b, 3, s.sender.chain.key[:])
		return pb.AppendUint64(b, 4, uint64(s.sender.chain.index))
	})
	for i := range s.receivers {
		r := &s.receivers[i]
		b = pb.AppendMessage(b, 7, func(b []byte) []byte {
			b = appendKey(b, 1, r.ratchetKey)
			b = pb.AppendBytes(b, 2, r.chain.key[:])
			b = pb.AppendUint64(b, 3, uint64(r.chain.index))
			if len(r.skipped) > 0 {
				b = pb.AppendMessage(b, 4, func(b []byte) []byte {
					for _, k := range r.skipped {
						b = binary.BigEndian.AppendUint32(b, k.index)
						b = append(b, k.seed[:]...)
					}
					return b
				})
			}
			return b
		})
	}
	var err error
	b = pb.AppendMessage(b, 8, func(b []byte) []byte {
		var out []byte
		out, err = s.pq.AppendBinary(b)
		if err != nil {
			return b
		}
		return out
	})
	if err != nil {
		return nil, err
	}
	b = appendKey(b, 9, s.AliceBaseKey)
	if p := s.Pending; p != nil {
		b = pb.AppendMessage(b, 10, func(b []byte) []byte {
			if p.HasPreKeyID {
				b = pb.AppendUint64(b, 1, uint64(p.PreKeyID))
			}
			b = pb.AppendUint64(b, 2, uint64(p.SignedPreKeyID))
			b = pb.AppendUint64(b, 3, uint64(p.KyberPreKeyID))
			b = pb.AppendBytes(b, 4, p.KyberCiphertext)
			b = appendKey(b, 5, p.BaseKey)
			return pb.AppendUint64(b, 6, p.Timestamp)
		})
	}
	b = pb.AppendUint64(b, 11, uint64(s.LocalRegistrationID))
	b = pb.AppendUint64(b, 12, uint64(s.RemoteRegistrationID))
	return b, nil
}

// appendKey appends a 33-byte serialized public key as field num.
func appendKey(b []byte, num protowire.Number, k curve.PublicKey) []byte {
	if num < 16 { // every key field: a one-byte tag
		b = append(b, byte(num)<<3|byte(protowire.BytesType), curve.PublicKeySize)
	} else {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = append(b, curve.PublicKeySize)
	}
	return k.AppendBytes(b)
}

// Parse decodes a State encoded by MarshalBinary, checking every field and
// the limits the ratchet relies on. Errors wrap ErrInvalidState.
func Parse(b []byte) (*State, error) { return ParseInto(new(Storage), b) }

// Storage is room for a decoded State with its SPQR state and every
// receiving chain, so that a State decodes in one allocation, which a
// caller may make with things of its own (the session record does).
type Storage struct {
	s  State
	pq spqr.Storage
	rc [MaxReceiverChain]receiverChain
}

// ParseInto is Parse decoding into a, which must be zero; the State lives
// in a.
func ParseInto(a *Storage, b []byte) (*State, error) {
	if len(b) == 0 || b[0] != formatV1 {
		return nil, errs.New(errs.InvalidState, "session state of an unknown format")
	}
	s := &a.s
	s.receivers = a.rc[:0]
	var err error
	r := pb.NewReader(b[1:])
	for err == nil {
		num, ok := r.Next()
		if !ok {
			break
		}
		switch num {
		case 1:
			s.Version = uint8(min(r.Uint64(), 255))
		case 2:
			s.LocalIdentity, err = parseKey(r)
		case 3:
			s.RemoteIdentity, err = parseKey(r)
		case 4:
			r.Fixed(s.rootKey[:])
		case 5:
			s.previousCounter = r.Uint32()
		case 6:
			err = s.sender.parse(r.Bytes())
		case 7:
			if len(s.receivers) == MaxReceiverChain {
				return nil, errs.New(errs.InvalidState, "session state has too many receiving chains")
			}
			var rc receiverChain
			if err = rc.parse(r.Bytes()); err == nil {
				s.receivers = append(s.receivers, rc)
			}
		case 8:
			s.pq, err = spqr.UnmarshalInto(&a.pq, r.Bytes())
		case 9:
			s.AliceBaseKey, err = parseKey(r)
		case 10:
			s.Pending, err = parsePending(r.Bytes())
		case 11:
			s.LocalRegistrationID = r.Uint32()
		case 12:
			s.RemoteRegistrationID = r.Uint32()
		default:
			r.Skip(num)
		}
	}
	if err == nil && r.Err() != nil {
		err = errs.Newf(errs.InvalidState, "session state: %v", r.Err())
	}
	if err != nil {
		return nil, err
	}
	for _, n := range []protowire.Number{1, 2, 3, 4, 6, 8, 9} {
		if !r.Seen(n) {
			return nil, errs.Newf(errs.InvalidState, "session state lacks field %d", n)
		}
	}
	return s, nil
}

func parseKey(r *pb.Reader) (curve.PublicKey, error) {
	k, err := curve.ParsePublicKey(r.Bytes())
	if err != nil && r.Err() == nil {
		return k, errs.New(errs.InvalidState, "session state holds a malformed public key")
	}
	return k, nil
}

func (sc *senderChain) parse(b []byte) error {
	r := pb.NewReader(b)
	var err error
	for err == nil {
		num, ok := r.Next()
		if !ok {
			break
		}
		switch num {
		case 1:
			sc.ratchet.Public, err = parseKey(r)
		case 2:
			var p [32]byte
			r.Fixed(p[:])
			sc.ratchet.Private, _ = curve.ParsePrivateKey(p[:])
		case 3:
			r.Fixed(sc.chain.key[:])
		case 4:
			sc.chain.index = r.Uint32()
		default:
			r.Skip(num)
		}
	}
	if err != nil {
		return err
	}
	if r.Err() != nil || !r.Seen(1, 2, 3) {
		return errs.New(errs.InvalidState, "session state: malformed sending chain")
	}
	return nil
}

func (rc *receiverChain) parse(b []byte) error {
	r := pb.NewReader(b)
	var skipped []byte
	var err error
	for err == nil {
		num, ok := r.Next()
		if !ok {
			break
		}
		switch num {
		case 1:
			rc.ratchetKey, err = parseKey(r)
		case 2:
			r.Fixed(rc.chain.key[:])
		case 3:
			rc.chain.index = r.Uint32()
		case 4:
			skipped = r.Bytes()
		default:
			r.Skip(num)
		}
	}
	if err != nil {
		return err
	}
	if r.Err() != nil || !r.Seen(1, 2) {
		return errs.New(errs.InvalidState, "session state: malformed receiving chain")
	}
	const size = 4 + 32
	if len(skipped)%size != 0 || len(skipped)/size > MaxSkippedKeys {
		return errs.New(errs.InvalidState, "session state: skipped keys malformed or too many")
	}
	if n := len(skipped) / size; n > 0 {
		rc.skipped = make([]skippedKey, n)
	}
	for i := range rc.skipped {
		k := &rc.skipped[i]
		k.index = binary.BigEndian.Uint32(skipped[i*size:])
		copy(k.seed[:], skipped[i*size+4:(i+1)*size])
		if k.index >= rc.chain.index || i > 0 && k.index <= rc.skipped[i-1].index {
			return errs.New(errs.InvalidState, "session state: skipped keys out of order")
		}
	}
	return nil
}

func parsePending(b []byte) (*Pending, error) {
	p := &Pending{}
	r := pb.NewReader(b)
	var err error
	for err == nil {
		num, ok := r.Next()
		if !ok {
			break
		}
		switch num {
		case 1:
			p.PreKeyID, p.HasPreKeyID = r.Uint32(), true
		case 2:
			p.SignedPreKeyID = r.Uint32()
		case 3:
			p.KyberPreKeyID = r.Uint32()
		case 4:
			p.KyberCiphertext = append([]byte(nil), r.Bytes()...)
		case 5:
			p.BaseKey, err = parseKey(r)
		case 6:
			p.Timestamp = r.Uint64()
		default:
			r.Skip(num)
		}
	}
	if err != nil {
		return nil, err
	}
	if r.Err() != nil || !r.Seen(2, 3, 5) || len(p.KyberCiphertext) != kem.CiphertextSize {
		return nil, errs.New(errs.InvalidState, "session state: malformed pending prekey message")
	}
	return p, nil
}
