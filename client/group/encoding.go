package group

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// The encoding of a Record in the client's store (sealed there like every
// value): protobuf wire format,
//
//	Record {1: State, 2: author, 3: digest (32), 4: base State, 5: departed (repeated), 6: left (1),
//	        7: Proof (chainenc.go; absent for a group not signed yet), 8: recent Version (repeated)}
//	State  {1: ID (16), 2: version, 3: name, 4: member (repeated), 5: admin (repeated), 6: timer seconds,
//	        7: invite link digest (32, when set)}
//
// ParseRecord checks every length, count and state before use.

// MarshalBinary encodes the record.
func (r *Record) MarshalBinary() ([]byte, error) {
	if err := r.State.Check(); err != nil {
		return nil, err
	}
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, appendState(nil, &r.State))
	b = appendString(b, 2, r.Author)
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendBytes(b, r.Digest[:])
	if r.Base != nil {
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendBytes(b, appendState(nil, r.Base))
	}
	for _, m := range r.Departed {
		b = appendString(b, 5, m)
	}
	if r.Left {
		b = protowire.AppendTag(b, 6, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	if r.Proof != nil {
		p, err := r.Proof.MarshalBinary()
		if err != nil {
			return nil, err
		}
		b = protowire.AppendTag(b, 7, protowire.BytesType)
		b = protowire.AppendBytes(b, p)
	}
	for i := range r.Recent {
		b = protowire.AppendTag(b, 8, protowire.BytesType)
		b = protowire.AppendBytes(b, r.Recent[i].appendVersion(nil))
	}
	return b, nil
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendState(b []byte, s *State) []byte {
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, s.ID[:])
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, s.Version)
	b = appendString(b, 3, s.Name)
	for _, m := range s.Members {
		b = appendString(b, 4, m)
	}
	for _, a := range s.Admins {
		b = appendString(b, 5, a)
	}
	b = protowire.AppendTag(b, 6, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(s.Timer/time.Second))
	if s.Link != ([32]byte{}) {
		b = protowire.AppendTag(b, 7, protowire.BytesType)
		b = protowire.AppendBytes(b, s.Link[:])
	}
	return b
}

func malformed(why string) error { return fmt.Errorf("%w: %s", ErrInvalid, why) }

// field is one field of a message: a varint or a byte string.
type field struct {
	num protowire.Number
	v   uint64
	b   []byte
	typ protowire.Type
}

// fields splits b into its fields, refusing groups and fixed-size types,
// and at most max of them.
func fields(b []byte, max int) ([]field, error) {
	var out []field
	for len(b) > 0 {
		if len(out) >= max {
			return nil, malformed("too many fields")
		}
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, malformed("bad tag")
		}
		b = b[n:]
		f := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.v, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			f.b, n = protowire.ConsumeBytes(b)
		default:
			return nil, malformed("unexpected field type")
		}
		if n < 0 {
			return nil, malformed("bad field")
		}
		b = b[n:]
		out = append(out, f)
	}
	return out, nil
}

// ParseRecord decodes a record made by MarshalBinary.
func ParseRecord(b []byte) (*Record, error) {
	fs, err := fields(b, MaxMembers+8)
	if err != nil {
		return nil, err
	}
	r := &Record{}
	var haveState, haveDigest bool
	for _, f := range fs {
		switch {
		case f.num == 1 && f.typ == protowire.BytesType && !haveState:
			s, err := parseState(f.b)
			if err != nil {
				return nil, err
			}
			r.State, haveState = *s, true
		case f.num == 2 && f.typ == protowire.BytesType:
			r.Author = string(f.b)
		case f.num == 3 && f.typ == protowire.BytesType && len(f.b) == len(r.Digest):
			copy(r.Digest[:], f.b)
			haveDigest = true
		case f.num == 4 && f.typ == protowire.BytesType && r.Base == nil:
			if r.Base, err = parseState(f.b); err != nil {
				return nil, err
			}
		case f.num == 5 && f.typ == protowire.BytesType:
			m := string(f.b)
			if !r.State.IsMember(m) || (len(r.Departed) > 0 && r.Departed[len(r.Departed)-1] >= m) {
				return nil, malformed("a departed member who is not a member, or out of order")
			}
			r.Departed = append(r.Departed, m)
		case f.num == 6 && f.typ == protowire.VarintType && f.v <= 1:
			r.Left = f.v == 1
		case f.num == 7 && f.typ == protowire.BytesType && r.Proof == nil:
			if r.Proof, err = ParseProof(f.b); err != nil {
				return nil, err
			}
		case f.num == 8 && f.typ == protowire.BytesType && len(r.Recent) < MaxRecent:
			v, err := parseVersion(f.b)
			if err != nil {
				return nil, err
			}
			r.Recent = append(r.Recent, *v)
		default:
			return nil, malformed(fmt.Sprintf("unexpected field %d", f.num))
		}
	}
	if !haveState || !haveDigest {
		return nil, malformed("no state or digest")
	}
	return r, nil
}

func parseState(b []byte) (*State, error) {
	fs, err := fields(b, 2*MaxMembers+8)
	if err != nil {
		return nil, err
	}
	s := &State{}
	var seen [8]bool
	for _, f := range fs {
		if f.num < 1 || f.num > 7 {
			return nil, malformed(fmt.Sprintf("unexpected state field %d", f.num))
		}
		if f.num != 4 && f.num != 5 {
			if seen[f.num] {
				return nil, malformed("a state field repeated")
			}
			seen[f.num] = true
		}
		wantBytes := f.num != 2 && f.num != 6
		if f.num == 7 && len(f.b) != len(s.Link) {
			return nil, malformed("invite link digest size")
		}
		if wantBytes != (f.typ == protowire.BytesType) {
			return nil, malformed("a state field of the wrong type")
		}
		switch f.num {
		case 1:
			if len(f.b) != len(s.ID) {
				return nil, malformed("group ID size")
			}
			copy(s.ID[:], f.b)
		case 2:
			s.Version = f.v
		case 3:
			s.Name = string(f.b)
		case 4:
			s.Members = append(s.Members, string(f.b))
		case 5:
			s.Admins = append(s.Admins, string(f.b))
		case 6:
			if f.v > 1<<32 {
				return nil, malformed("timer out of range")
			}
			s.Timer = time.Duration(f.v) * time.Second
		case 7:
			copy(s.Link[:], f.b)
		}
	}
	if err := s.Check(); err != nil {
		return nil, err
	}
	return s, nil
}
