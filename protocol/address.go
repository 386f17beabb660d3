package protocol

import (
	"fmt"

	"github.com/skymsg/sky/protocol/message"
	"github.com/skymsg/sky/protocol/serviceid"
)

// Address names one device of a remote (or the local) account: the
// account's name, a service ID string such as an ACI UUID
// ("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee") or "PNI:<uuid>", and a device ID
// (1..127).
type Address struct {
	Name     string
	DeviceID uint32
}

func (a Address) String() string { return fmt.Sprintf("%s.%d", a.Name, a.DeviceID) }

// serviceIDSize is the fixed-width binary form of a service ID: a kind byte
// (0 ACI, 1 PNI) and the 16 UUID bytes.
const serviceIDSize = serviceid.Size

// ServiceID returns the fixed-width binary service ID of a name, as libsignal
// parses it: a hyphenated UUID (any case) is an ACI, "PNI:" followed by one
// is a PNI; anything else is not a service ID.
func ServiceID(name string) ([serviceIDSize]byte, bool) {
	id, ok := serviceid.Parse(name)
	return id, ok
}

// UUIDBytes returns the 16 UUID bytes of a service ID name.
func UUIDBytes(name string) ([]byte, bool) {
	id, ok := ServiceID(name)
	if !ok {
		return nil, false
	}
	return id[1:], true
}

// addressesField returns the 36-byte addresses field libsignal puts in
// PreKey-wrapped messages, or nil if either name is not a service ID or a
// device ID does not fit 1..127.
func addressesField(sender, recipient Address) []byte {
	s, ok1 := ServiceID(sender.Name)
	r, ok2 := ServiceID(recipient.Name)
	if !ok1 || !ok2 || !validDevice(sender.DeviceID) || !validDevice(recipient.DeviceID) {
		return nil
	}
	b := make([]byte, 0, message.AddressesSize)
	b = append(b, s[:]...)
	b = append(b, byte(sender.DeviceID))
	b = append(b, r[:]...)
	return append(b, byte(recipient.DeviceID))
}

func validDevice(id uint32) bool { return id >= 1 && id <= 127 }

// sameAccount reports whether two addresses name the same account, as
// libsignal's is_same_account decides it (together with equal identity keys):
// both names are service IDs and they are equal.
func sameAccount(a, b Address) bool {
	x, ok1 := ServiceID(a.Name)
	y, ok2 := ServiceID(b.Name)
	return ok1 && ok2 && x == y
}
