package group

import (
	"bytes"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/wire"
)

// The encoding of signed versions and proofs, in protobuf wire format with
// fields in this order, each present only when not zero:
//
//	Version {1: ID (16), 2: number, 3: prev (32), 4: admin prev (32),
//	         5: state digest (32), 6: added admin {1: ID, 2: key (33)} (repeated),
//	         7: removed admin (repeated), 8: signer, 9: group key (33),
//	         10: from (16, the unsigned group a genesis replaces), 15: signature (64)}
//	Proof   {1: Version (repeated)}
//
// A proof comes from other members (or from whoever claims to be one), so
// ParseProof accepts only the one canonical encoding of what it decodes:
// it re-encodes what it read and compares. Counts and sizes are bounded
// before anything is kept.

// appendSigned appends the fields of v that its digest covers.
func (v *Version) appendSigned(b []byte) []byte {
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, v.ID[:])
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, v.Number)
	for _, f := range []struct {
		num protowire.Number
		d   [32]byte
	}{{3, v.Prev}, {4, v.AdminPrev}, {5, v.StateDigest}} {
		if f.d != [32]byte{} {
			b = protowire.AppendTag(b, f.num, protowire.BytesType)
			b = protowire.AppendBytes(b, f.d[:])
		}
	}
	for _, k := range v.Added {
		rec := appendString(nil, 1, k.ID)
		rec = protowire.AppendTag(rec, 2, protowire.BytesType)
		rec = protowire.AppendBytes(rec, k.Key.Bytes())
		b = protowire.AppendTag(b, 6, protowire.BytesType)
		b = protowire.AppendBytes(b, rec)
	}
	for _, r := range v.Removed {
		b = appendString(b, 7, r)
	}
	b = appendString(b, 8, v.Signer)
	if !v.GroupKey.IsZero() {
		b = protowire.AppendTag(b, 9, protowire.BytesType)
		b = protowire.AppendBytes(b, v.GroupKey.Bytes())
	}
	if v.From != (ID{}) {
		b = protowire.AppendTag(b, 10, protowire.BytesType)
		b = protowire.AppendBytes(b, v.From[:])
	}
	return b
}

// appendVersion appends v with its signature.
func (v *Version) appendVersion(b []byte) []byte {
	b = v.appendSigned(b)
	b = protowire.AppendTag(b, 15, protowire.BytesType)
	return protowire.AppendBytes(b, v.Sig[:])
}

// MarshalBinary encodes the proof.
func (p *Proof) MarshalBinary() ([]byte, error) {
	var b []byte
	for i := range p.Chain {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, p.Chain[i].appendVersion(nil))
	}
	if len(b) > MaxProofBytes {
		return nil, fmt.Errorf("%w: the group's signed history is %d bytes, more than the %d a message carries (too many admin changes)", ErrInvalid, len(b), MaxProofBytes)
	}
	return b, nil
}

// ParseProof decodes a proof made by MarshalBinary. It checks its form
// only; Proof.Verify checks what it proves.
func ParseProof(b []byte) (*Proof, error) {
	if len(b) == 0 || len(b) > MaxProofBytes {
		return nil, malformed("a proof of no bytes, or too many")
	}
	fs, err := fields(b, MaxProofVersions)
	if err != nil {
		return nil, err
	}
	p := &Proof{Chain: make([]Version, 0, len(fs))}
	for _, f := range fs {
		if f.num != 1 || f.typ != protowire.BytesType {
			return nil, malformed("unexpected proof field")
		}
		v, err := parseVersion(f.b)
		if err != nil {
			return nil, err
		}
		p.Chain = append(p.Chain, *v)
	}
	return p, nil
}

// parseVersion decodes one version and insists on its canonical encoding.
func parseVersion(b []byte) (*Version, error) {
	fs, err := fields(b, 2*MaxMembers+16)
	if err != nil {
		return nil, err
	}
	v := &Version{}
	for _, f := range fs {
		if err := v.setField(f); err != nil {
			return nil, err
		}
	}
	if !bytes.Equal(v.appendVersion(nil), b) {
		return nil, malformed("a version not in its canonical encoding")
	}
	if v.Number == 0 || !wire.ValidAccountID(v.Signer) {
		return nil, malformed("a version without a number or signer")
	}
	for i, r := range v.Removed {
		if !wire.ValidAccountID(r) || (i > 0 && v.Removed[i-1] >= r) {
			return nil, malformed("removed admins are not sorted, unique Sky IDs")
		}
	}
	for i, k := range v.Added {
		if !wire.ValidAccountID(k.ID) || (i > 0 && v.Added[i-1].ID >= k.ID) || contains(v.Removed, k.ID) {
			return nil, malformed("added admins are not sorted, unique Sky IDs")
		}
	}
	return v, nil
}

// setField reads one field of a version (the order is checked afterwards,
// by re-encoding).
func (v *Version) setField(f field) error {
	isBytes := f.typ == protowire.BytesType
	digest := func(d *[32]byte) error {
		if !isBytes || len(f.b) != 32 {
			return malformed("a digest of the wrong size")
		}
		copy(d[:], f.b)
		return nil
	}
	switch {
	case f.num == 1 && isBytes && len(f.b) == len(v.ID):
		copy(v.ID[:], f.b)
	case f.num == 2 && !isBytes:
		v.Number = f.v
	case f.num == 3:
		return digest(&v.Prev)
	case f.num == 4:
		return digest(&v.AdminPrev)
	case f.num == 5:
		return digest(&v.StateDigest)
	case f.num == 6 && isBytes:
		if len(v.Added) >= MaxMembers {
			return malformed("too many added admins")
		}
		k, err := parseAdminKey(f.b)
		if err != nil {
			return err
		}
		v.Added = append(v.Added, k)
	case f.num == 7 && isBytes:
		if len(v.Removed) >= MaxMembers {
			return malformed("too many removed admins")
		}
		v.Removed = append(v.Removed, string(f.b))
	case f.num == 8 && isBytes:
		v.Signer = string(f.b)
	case f.num == 9 && isBytes:
		k, err := curve.ParsePublicKey(f.b)
		if err != nil || k.IsZero() {
			return malformed("a bad group key")
		}
		v.GroupKey = k
	case f.num == 10 && isBytes && len(f.b) == len(v.From):
		copy(v.From[:], f.b)
	case f.num == 15 && isBytes && len(f.b) == len(v.Sig):
		copy(v.Sig[:], f.b)
	default:
		return malformed(fmt.Sprintf("unexpected version field %d", f.num))
	}
	return nil
}

func parseAdminKey(b []byte) (AdminKey, error) {
	fs, err := fields(b, 2)
	if err != nil || len(fs) != 2 || fs[0].num != 1 || fs[1].num != 2 || fs[0].typ != protowire.BytesType || fs[1].typ != protowire.BytesType {
		return AdminKey{}, malformed("a bad admin key")
	}
	k, err := curve.ParsePublicKey(fs[1].b)
	if err != nil || k.IsZero() {
		return AdminKey{}, malformed("a bad admin key")
	}
	return AdminKey{ID: string(fs[0].b), Key: k}, nil
}

// EncodeAncestry encodes the newest of vs (oldest first) that fit in
// content.MaxGroupAncestryBytes, in the form of a proof's versions.
func EncodeAncestry(vs []Version) []byte {
	var parts [][]byte
	size := 0
	for i := len(vs) - 1; i >= 0; i-- {
		v := vs[i].appendVersion(nil)
		n := len(v) + protowire.SizeTag(1) + protowire.SizeVarint(uint64(len(v)))
		if size+n > content.MaxGroupAncestryBytes {
			break
		}
		parts, size = append(parts, v), size+n
	}
	var b []byte
	for i := len(parts) - 1; i >= 0; i-- {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, parts[i])
	}
	return b
}

// ParseAncestry decodes what EncodeAncestry made (none for no bytes). What
// it holds is judged only through its hash links to a signed head.
func ParseAncestry(b []byte) ([]Version, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if len(b) > content.MaxGroupAncestryBytes {
		return nil, malformed("too many recent versions")
	}
	p, err := ParseProof(b)
	if err != nil {
		return nil, err
	}
	if len(p.Chain) > MaxRecent {
		return nil, malformed("too many recent versions")
	}
	return p.Chain, nil
}
