package core

import "slices"

// Devices. Linked devices do not exist yet: every account has exactly one
// device, number 1, and that is the only device it has ever announced to
// anyone. An account's own devices are the only ones it can vouch for, end
// to end (later, with a device list signed by the account's primary); the
// server's word is not enough. So a device the server lists for an account
// — in the bundles it hands out, or as the sender of a message — that the
// account never announced gets nothing: no session is made with it, nothing
// is encrypted to it (no message, no sender key), and what it sends is
// dropped. A server adding a device to someone's account is the device
// half of acceptance test 11 (Matrix's "More is Less").

// AnnouncedDevice is the one device every account announces today.
const AnnouncedDevice uint32 = 1

// announced reports whether dev is a device peer announced end to end.
func Announced(peer string, dev uint32) bool {
	_ = peer // one device for everyone until device lists exist
	return dev == AnnouncedDevice
}

// onlyAnnounced returns the devices of devs that peer announced.
func onlyAnnounced(peer string, devs []uint32) []uint32 {
	return slices.DeleteFunc(slices.Clone(devs), func(d uint32) bool { return !Announced(peer, d) })
}
