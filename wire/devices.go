package wire

import "time"

// Linked devices (docs/protocol.md, "Linked devices").
const (
	// MaxDeviceListBytes bounds PutDeviceList.list (a signed list of the
	// most devices the format allows is under 800 bytes).
	MaxDeviceListBytes = 1024
	// LinkIDBytes is the length of a link's ID.
	LinkIDBytes = 16
	// MaxLinkBlobBytes bounds one link slot: the sealed account (identity
	// key, settings, contacts) of the account being linked.
	MaxLinkBlobBytes = 192 << 10
	// LinkSlots is how many slots a link has: the offer, the answer, the
	// sealed account.
	LinkSlots = 3
	// LinkTTL is how long a link's slots are kept.
	LinkTTL = 10 * time.Minute
)

// Sentinels of the linked-device codes.
var (
	ErrTooManyDevices = &Error{Code: Code_TOO_MANY_DEVICES}
	ErrLinkTaken      = &Error{Code: Code_LINK_TAKEN}
)
