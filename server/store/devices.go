package store

import (
	"context"
	"time"
)

// Devices keeps what linked devices need: each account's signed device list
// (opaque bytes: the clients sign and check it, the server cannot make
// one), more devices per account, and the write-once link slots in which
// two devices of one account meet. A link slot holds only what the devices
// encrypted or bound to a code the server never sees, and expires.
type Devices interface {
	// DeviceList returns account's stored list (nil if none) and the
	// numbers of its registered devices, in order. ErrNotFound if there is
	// no such account.
	DeviceList(ctx context.Context, account string) (list []byte, devices []uint32, err error)
	// SetDeviceList replaces account's stored list. ErrNotFound if there is
	// no such account.
	SetDeviceList(ctx context.Context, account string, list []byte) error
	// AddDevice registers a new device of account and returns its number:
	// one more than the highest the account ever had, so a removed
	// device's number is not reused. ErrTooManyDevices if the account has
	// max devices already; ErrNotFound if there is no such account.
	AddDevice(ctx context.Context, account string, authKey []byte, registrationID uint32, max int) (uint32, error)
	// RemoveDevice deletes one device with its prekeys and queued messages.
	// ErrNotFound if there is no such device.
	RemoveDevice(ctx context.Context, a Address) error
	// PutLink writes slot of link id once. ErrLinkTaken if it is written.
	PutLink(ctx context.Context, id []byte, slot uint32, blob []byte, expires time.Time) error
	// Link reads slot of link id. ErrNotFound if it is not written or
	// expired at now.
	Link(ctx context.Context, id []byte, slot uint32, now time.Time) ([]byte, error)
	// SweepLinks deletes link slots that expired at or before now.
	SweepLinks(ctx context.Context, now time.Time) (int64, error)
}

// MaxDeviceID is the highest device number (libsignal addresses allow 1..127).
const MaxDeviceID = 127
