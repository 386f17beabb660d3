package linkproto

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// Account is what a new device receives, sealed, from the device that
// links it: the account it joins and the state it needs to take part.
type Account struct {
	ID           string
	Device       uint32 // the new device's number, given by the server
	IdentityKey  []byte // the identity key pair (libsignal's IdentityKeyPairStructure)
	DeviceList   []byte // the signed list with the new device on it
	AccessKey    []byte // the account's sealed-sender access key
	TrustRoot    []byte // the trust root the existing device pinned
	Contacts     []Contact
	DefaultTimer uint64 // seconds; 0: unset
}

// Contact is one contact with the user's name for them, and how far their
// messages (from their first device) have arrived, so the new device does
// not take the ones before for missing.
type Contact struct {
	ID   string
	Name string
	Upto uint64
}

// Bounds of what Decode accepts.
const (
	MaxContacts  = 5000
	maxIDBytes   = 64
	maxNameBytes = 256
	maxKeyBytes  = 1024
)

var errAccount = errors.New("linkproto: the sealed account is malformed")

// Encode encodes a.
func (a *Account) Encode() []byte {
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	b = protowire.AppendString(b, a.ID)
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(a.Device))
	for i, v := range [][]byte{a.IdentityKey, a.DeviceList, a.AccessKey, a.TrustRoot} {
		b = protowire.AppendTag(b, protowire.Number(3+i), protowire.BytesType)
		b = protowire.AppendBytes(b, v)
	}
	for _, c := range a.Contacts {
		var cb []byte
		cb = protowire.AppendTag(cb, 1, protowire.BytesType)
		cb = protowire.AppendString(cb, c.ID)
		cb = protowire.AppendTag(cb, 2, protowire.BytesType)
		cb = protowire.AppendString(cb, c.Name)
		if c.Upto > 0 {
			cb = protowire.AppendTag(cb, 3, protowire.VarintType)
			cb = protowire.AppendVarint(cb, c.Upto)
		}
		b = protowire.AppendTag(b, 7, protowire.BytesType)
		b = protowire.AppendBytes(b, cb)
	}
	b = protowire.AppendTag(b, 8, protowire.VarintType)
	return protowire.AppendVarint(b, a.DefaultTimer)
}

// DecodeAccount decodes and bounds-checks an Account.
func DecodeAccount(b []byte) (*Account, error) {
	a := &Account{}
	seen := map[protowire.Number]bool{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, errAccount
		}
		b = b[n:]
		if seen[num] && num != 7 {
			return nil, fmt.Errorf("%w: field %d twice", errAccount, num)
		}
		seen[num] = true
		switch {
		case typ == protowire.VarintType && (num == 2 || num == 8):
			v, n := protowire.ConsumeVarint(b)
			if n < 0 || (num == 2 && (v == 0 || v > 127)) {
				return nil, errAccount
			}
			b = b[n:]
			if num == 2 {
				a.Device = uint32(v)
			} else {
				a.DefaultTimer = v
			}
		case typ == protowire.BytesType && num >= 1 && num <= 7:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 || len(v) > maxKeyBytes {
				return nil, errAccount
			}
			b = b[n:]
			if err := a.set(num, v); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%w: unknown field %d", errAccount, num)
		}
	}
	if a.ID == "" || a.Device == 0 || len(a.IdentityKey) == 0 || len(a.DeviceList) == 0 || len(a.TrustRoot) == 0 {
		return nil, fmt.Errorf("%w: a field is missing", errAccount)
	}
	return a, nil
}

func (a *Account) set(num protowire.Number, v []byte) error {
	switch num {
	case 1:
		if len(v) > maxIDBytes || !utf8.Valid(v) {
			return errAccount
		}
		a.ID = string(v)
	case 3:
		a.IdentityKey = append([]byte(nil), v...)
	case 4:
		a.DeviceList = append([]byte(nil), v...)
	case 5:
		a.AccessKey = append([]byte(nil), v...)
	case 6:
		a.TrustRoot = append([]byte(nil), v...)
	case 7:
		if len(a.Contacts) >= MaxContacts {
			return fmt.Errorf("%w: more than %d contacts", errAccount, MaxContacts)
		}
		c, err := decodeContact(v)
		if err != nil {
			return err
		}
		a.Contacts = append(a.Contacts, c)
	}
	return nil
}

func decodeContact(b []byte) (Contact, error) {
	var c Contact
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || (typ != protowire.BytesType && !(num == 3 && typ == protowire.VarintType)) {
			return c, errAccount
		}
		b = b[n:]
		if num == 3 {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return c, errAccount
			}
			c.Upto, b = v, b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 || !utf8.Valid(v) {
			return c, errAccount
		}
		b = b[n:]
		switch {
		case num == 1 && len(v) <= maxIDBytes:
			c.ID = string(v)
		case num == 2 && len(v) <= maxNameBytes:
			c.Name = string(v)
		default:
			return c, errAccount
		}
	}
	if c.ID == "" {
		return c, errAccount
	}
	return c, nil
}
