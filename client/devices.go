package client

import (
	"context"

	"github.com/skymsg/sky/client/devices"
)

// Linked devices (package client/devices).

// Device is one device of the account as its signed device list names it.
type Device = devices.Device

// Devices returns the account's devices, from the newest device list
// signed by the account's key that this device accepted, and its version
// (0: the account never published one; then it has this device alone).
func (c *Client) Devices() ([]Device, uint64, error) { return c.devices.List() }

// ContactDevices returns a contact's devices, as their accepted signed
// list names them (device 1 alone if they never published one).
func (c *Client) ContactDevices(peer string) ([]uint32, error) { return c.devices.Of(peer) }

// LinkDevice links a new device to the account: onCode is called with a
// one-time link code to type (or scan) on the new device (Link, sky link),
// then LinkDevice waits until it linked (or the code expired, or ctx
// ended) and returns its number. Run must be running.
func (c *Client) LinkDevice(ctx context.Context, onCode func(code string)) (uint32, error) {
	return c.devices.Link(ctx, onCode)
}

// RemoveDevice removes a device from the account with a new device list
// signed by the account's key: contacts stop encrypting to it, and the
// removed device erases itself when it sees the list. Run must be running.
func (c *Client) RemoveDevice(ctx context.Context, id uint32) error { return c.devices.Remove(ctx, id) }

// DeviceID is this device's number in its account.
func (c *Client) DeviceID() uint32 { return c.core.DeviceID() }
