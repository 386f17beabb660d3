// Package devlist is an account's signed device list: which devices belong
// to the account, each with its authentication key and registration ID, and
// a version that only ever grows, all signed (XEdDSA) by the account's
// identity key. The server stores and serves it but cannot make one, so a
// device the server adds on its own (a "ghost") is on no list a contact
// accepts, and nothing is encrypted to it.
//
// The same signed list is the only order a device obeys to wipe itself: a
// validly signed list, newer than any the device has seen, without the
// device on it, means the user removed it on another device.
//
// Pure: no I/O, no clock. Decode is strict (exact lengths, no trailing
// bytes, bounded counts) and has a fuzz target.
package devlist

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/skymsg/sky/protocol/curve"
)

// MaxDevices bounds the devices of one list (the server's operator setting,
// 5 by default, is at most this).
const MaxDevices = 16

// MaxDeviceID is the highest device number (libsignal's addresses allow
// 1..127).
const MaxDeviceID = 127

// AuthKeySize is the length of a device's Ed25519 authentication key.
const AuthKeySize = 32

// MaxAccountBytes bounds the account ID inside a list.
const MaxAccountBytes = 64

// MaxEncoded is the longest encoded signed list.
const MaxEncoded = 1 + MaxAccountBytes + 8 + 1 + MaxDevices*(8+AuthKeySize) + curve.SignatureSize

// context separates the list's signatures from every other XEdDSA signature
// made with an identity key (prekeys, other Sky statements).
var context = []byte("Sky signed device list v1\x00")

// Device is one device on a list.
type Device struct {
	ID             uint32
	RegistrationID uint32
	AuthKey        [AuthKeySize]byte
}

// List is one version of an account's device list.
type List struct {
	Account string
	Version uint64
	Devices []Device // ordered by ID, no duplicates
}

// Errors Verify and Decode return.
var (
	ErrMalformed = errors.New("devlist: malformed device list")
	ErrSignature = errors.New("devlist: the device list's signature does not verify under the account's identity key")
	ErrAccount   = errors.New("devlist: the device list is for another account")
)

// Has reports whether device id is on l, and returns it.
func (l *List) Has(id uint32) (Device, bool) {
	for _, d := range l.Devices {
		if d.ID == id {
			return d, true
		}
	}
	return Device{}, false
}

// IDs returns the device numbers on l, in order.
func (l *List) IDs() []uint32 {
	out := make([]uint32, len(l.Devices))
	for i, d := range l.Devices {
		out[i] = d.ID
	}
	return out
}

// Same reports whether l and m list the same devices with the same keys.
func (l *List) Same(m *List) bool {
	return slices.Equal(l.Devices, m.Devices)
}

// check validates the list's shape.
func (l *List) check() error {
	switch {
	case l.Account == "" || len(l.Account) > MaxAccountBytes:
		return fmt.Errorf("%w: account ID of %d bytes", ErrMalformed, len(l.Account))
	case l.Version == 0:
		return fmt.Errorf("%w: version 0", ErrMalformed)
	case len(l.Devices) == 0 || len(l.Devices) > MaxDevices:
		return fmt.Errorf("%w: %d devices (1 to %d allowed)", ErrMalformed, len(l.Devices), MaxDevices)
	}
	for i, d := range l.Devices {
		if d.ID == 0 || d.ID > MaxDeviceID || (i > 0 && d.ID <= l.Devices[i-1].ID) {
			return fmt.Errorf("%w: device numbers must be 1..%d, increasing", ErrMalformed, MaxDeviceID)
		}
	}
	return nil
}

// body encodes everything the signature covers but the context.
func (l *List) body() []byte {
	b := make([]byte, 0, MaxEncoded)
	b = append(b, byte(len(l.Account)))
	b = append(b, l.Account...)
	b = binary.BigEndian.AppendUint64(b, l.Version)
	b = append(b, byte(len(l.Devices)))
	for _, d := range l.Devices {
		b = binary.BigEndian.AppendUint32(b, d.ID)
		b = binary.BigEndian.AppendUint32(b, d.RegistrationID)
		b = append(b, d.AuthKey[:]...)
	}
	return b
}

// Sign encodes l signed by the account's identity key.
func Sign(l *List, identity curve.PrivateKey) ([]byte, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	b := l.body()
	sig := identity.Sign(context, b)
	return append(b, sig[:]...), nil
}

// Decode parses a signed list without checking its signature (Verify does
// both); it is for a list the device itself stored after verifying it.
func Decode(b []byte) (*List, error) {
	if len(b) > MaxEncoded || len(b) < 1+1+8+1+curve.SignatureSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	body := b[:len(b)-curve.SignatureSize]
	r := bytes.NewReader(body)
	n, _ := r.ReadByte()
	acct := make([]byte, n)
	if k, _ := r.Read(acct); k != int(n) || n == 0 {
		return nil, fmt.Errorf("%w: account ID", ErrMalformed)
	}
	l := &List{Account: string(acct)}
	var ver [8]byte
	if k, _ := r.Read(ver[:]); k != 8 {
		return nil, fmt.Errorf("%w: version", ErrMalformed)
	}
	l.Version = binary.BigEndian.Uint64(ver[:])
	count, err := r.ReadByte()
	if err != nil || int(count)*(8+AuthKeySize) != r.Len() {
		return nil, fmt.Errorf("%w: device count does not match the length", ErrMalformed)
	}
	for range count {
		var rec [8 + AuthKeySize]byte
		r.Read(rec[:])
		d := Device{ID: binary.BigEndian.Uint32(rec[:4]), RegistrationID: binary.BigEndian.Uint32(rec[4:8])}
		copy(d.AuthKey[:], rec[8:])
		l.Devices = append(l.Devices, d)
	}
	if err := l.check(); err != nil {
		return nil, err
	}
	return l, nil
}

// Verify decodes b and checks that it is account's list, signed by
// identity.
func Verify(b []byte, account string, identity curve.PublicKey) (*List, error) {
	l, err := Decode(b)
	if err != nil {
		return nil, err
	}
	if l.Account != account {
		return nil, ErrAccount
	}
	if !identity.Verify(b[len(b)-curve.SignatureSize:], context, b[:len(b)-curve.SignatureSize]) {
		return nil, ErrSignature
	}
	return l, nil
}

// Accept decides whether a list the server served (next, already
// verified) may replace the newest one accepted before (prev, nil if none). A lower version is a replay of an
// old list; the same version with other contents is a fork (the server
// showing two different lists). Both are refused with ErrRollback.
func Accept(prev, next *List) error {
	switch {
	case prev == nil:
		return nil
	case next.Version < prev.Version:
		return fmt.Errorf("%w: version %d after version %d", ErrRollback, next.Version, prev.Version)
	case next.Version == prev.Version && !bytes.Equal(prev.body(), next.body()):
		return fmt.Errorf("%w: two different lists with version %d", ErrRollback, next.Version)
	}
	return nil
}

// ErrRollback is a list older than (or forked from) one already accepted.
var ErrRollback = errors.New("devlist: the server served an older or a forked device list")

// Next returns the list that follows l with devices devs (a copy, version
// one higher).
func (l *List) Next(devs []Device) *List {
	n := &List{Account: l.Account, Version: l.Version + 1, Devices: slices.Clone(devs)}
	slices.SortFunc(n.Devices, func(a, b Device) int { return int(a.ID) - int(b.ID) })
	return n
}

// Without returns l's devices but id.
func (l *List) Without(id uint32) []Device {
	return slices.DeleteFunc(slices.Clone(l.Devices), func(d Device) bool { return d.ID == id })
}

// Digest is the SHA-256 of what a signed list's signature covers (the list
// without its signature, which is randomized, so that re-signing the same
// list keeps its digest). The key directory holds it next to the version
// (keytrans.DeviceListValue), so every contact checks that it sees the list
// everyone else is shown. b must be at least a signature long.
func Digest(b []byte) [32]byte {
	return sha256.Sum256(b[:max(len(b)-curve.SignatureSize, 0)])
}
