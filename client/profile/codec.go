package profile

import (
	"errors"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/store"
	"google.golang.org/protobuf/encoding/protowire"
)

// A kept profile's record is protobuf wire format: 1 version, 2 name,
// 3 avatar, 4 avatar type — the fields of the KindProfile body, without
// the group. Decode is as strict as content's decoder: every field once,
// every size bounded, and the result passes content.Profile.Check.
const (
	fVersion    = 1
	fName       = 2
	fAvatar     = 3
	fAvatarType = 4
)

var errBadRecord = errors.New("bad profile record")

// Encode returns the record of p, which must pass Check.
func Encode(p *content.Profile) []byte {
	b := protowire.AppendTag(nil, fVersion, protowire.VarintType)
	b = protowire.AppendVarint(b, p.Version)
	for _, f := range []struct {
		n protowire.Number
		v []byte
	}{{fName, []byte(p.Name)}, {fAvatar, p.Avatar}, {fAvatarType, []byte(p.AvatarType)}} {
		if len(f.v) > 0 {
			b = protowire.AppendTag(b, f.n, protowire.BytesType)
			b = protowire.AppendBytes(b, f.v)
		}
	}
	return b
}

// Decode parses a record made by Encode. It never panics.
func Decode(b []byte) (content.Profile, error) {
	var p content.Profile
	var seen uint64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num > fAvatarType || seen&(1<<num) != 0 {
			return content.Profile{}, errBadRecord
		}
		seen |= 1 << num
		b = b[n:]
		if num == fVersion {
			v, m := protowire.ConsumeVarint(b)
			if typ != protowire.VarintType || m < 0 {
				return content.Profile{}, errBadRecord
			}
			p.Version, b = v, b[m:]
			continue
		}
		v, m := protowire.ConsumeBytes(b)
		if typ != protowire.BytesType || m < 0 || len(v) > content.MaxAvatarBytes {
			return content.Profile{}, errBadRecord
		}
		b = b[m:]
		switch num {
		case fName:
			p.Name = string(v)
		case fAvatar:
			p.Avatar = append([]byte(nil), v...)
		case fAvatarType:
			p.AvatarType = string(v)
		}
	}
	if err := p.Check(); err != nil {
		return content.Profile{}, errBadRecord
	}
	return p, nil
}

func readNum(tx *store.Tx, name string) (uint64, error) {
	b, err := tx.Setting(name)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	v, n := protowire.ConsumeVarint(b)
	if n != len(b) {
		return 0, store.ErrCorrupt
	}
	return v, nil
}
