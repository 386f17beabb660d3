package keytrans

import (
	"encoding/binary"
	"errors"
	"strings"
)

// deviceListPrefix starts the label of an account's device-list entry; an
// account ID never contains '/', so the label never names an account.
const deviceListPrefix = "devices/"

// DeviceListValueSize is the size of a device-list entry's value.
const DeviceListValueSize = 8 + 32

// DeviceListLabel is the label (the VRF input) of account's device-list
// entry: a second entry next to the identity key's, which directories
// older than it lack (a contact then accepts only a one-device list).
func DeviceListLabel(account string) string { return deviceListPrefix + account }

// DeviceListAccount returns the account a device-list label names, or
// false if label is not one.
func DeviceListAccount(label string) (string, bool) {
	return strings.CutPrefix(label, deviceListPrefix)
}

// DeviceListValue is a device-list entry's value: the list's version and
// the digest of its signed content (devlist.Digest).
func DeviceListValue(version uint64, digest [32]byte) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, DeviceListValueSize), version), digest[:]...)
}

// ParseDeviceListValue reads what DeviceListValue wrote.
func ParseDeviceListValue(v []byte) (version uint64, digest [32]byte, err error) {
	if len(v) != DeviceListValueSize {
		return 0, digest, errors.Join(ErrMalformed, errors.New("a device-list entry's value is not 40 bytes"))
	}
	copy(digest[:], v[8:])
	return binary.BigEndian.Uint64(v[:8]), digest, nil
}
