// Package devices is the linked-devices concern: linking a new device to
// the account (the existing device's half of the link protocol; the new
// device's half is core.Join), listing the account's devices, and removing
// one, which is also the only way to order a device to wipe itself.
//
// Every change is a new version of the account's device list signed by its
// identity key (package devlist), published at the server, which stores it
// but cannot make one; contacts check it before they encrypt to a device
// (core/devices.go). A removed device erases itself when it sees a validly
// signed newer list without itself (core.maintainOwnList).
package devices

import (
	"context"
	"errors"
	"fmt"

	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/devices/devlist"
	"github.com/skymsg/sky/client/devices/linkproto"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/wire"
)

// Devices is the concern on one core.
type Devices struct{ core *core.Core }

// New makes the concern.
func New(c *core.Core) *Devices { return &Devices{core: c} }

// Device is one device of the account, as its signed list names it.
type Device struct {
	ID             uint32 `json:"id"`
	Current        bool   `json:"current"` // this device
	RegistrationID uint32 `json:"registration_id"`
}

// Errors.
var (
	ErrNotOnList  = errors.New("no such device on this account's device list; see sky devices list")
	ErrRemoveSelf = errors.New("a device does not remove itself: remove it from another device of the account (or erase it with the panic passphrase)")
)

// List returns the account's devices from its accepted signed list (device
// 1 alone if the account never published one) and the list's version.
func (d *Devices) List() ([]Device, uint64, error) {
	var l *devlist.List
	err := d.core.View(func(tx *store.Tx) (err error) { l, _, err = core.AcceptedList(tx, d.core.ID()); return })
	if err != nil {
		return nil, 0, err
	}
	if l == nil {
		return []Device{{ID: d.core.DeviceID(), Current: true}}, 0, nil
	}
	out := make([]Device, 0, len(l.Devices))
	for _, dv := range l.Devices {
		out = append(out, Device{ID: dv.ID, Current: dv.ID == d.core.DeviceID(), RegistrationID: dv.RegistrationID})
	}
	return out, l.Version, nil
}

// Of returns the devices of a contact as their accepted signed list names
// them.
func (d *Devices) Of(peer string) ([]uint32, error) {
	var devs []uint32
	err := d.core.View(func(tx *store.Tx) (err error) { devs, err = core.AnnouncedDevices(tx, peer); return })
	return devs, err
}

// current returns the accepted own list, or version 0 with this device
// alone if there is none yet.
func (d *Devices) current() (*devlist.List, error) {
	var l *devlist.List
	err := d.core.View(func(tx *store.Tx) (err error) { l, _, err = core.AcceptedList(tx, d.core.ID()); return })
	if err == nil && l == nil {
		l = &devlist.List{Account: d.core.ID(), Devices: []devlist.Device{d.core.OwnDevice()}}
	}
	return l, err
}

// Link links a new device: it shows a fresh one-time code (onCode is
// called with it once the server holds the offer), waits until the new
// device answers (or the code expires, or ctx ends), checks the answer
// against the code, registers the device at the server, signs and
// publishes the new device list, and sends the new device the account
// sealed for it. It returns the new device's number.
func (d *Devices) Link(ctx context.Context, onCode func(code string)) (uint32, error) {
	cn, err := d.core.Conn(ctx)
	if err != nil {
		return 0, err
	}
	lc, eph := linkproto.NewCode(), linkproto.NewEphemeral()
	if err := core.LinkPut(ctx, cn, lc.ID(), 0, lc.Offer(eph)); err != nil {
		return 0, err
	}
	onCode(lc.String())
	b, err := core.LinkGet(ctx, cn, "", lc.ID(), 1, true)
	if err != nil {
		return 0, err
	}
	ans, err := lc.OpenAnswer(eph.Public(), b)
	if err != nil {
		return 0, err
	}
	r, err := cn.Call(ctx, &wire.Request{Op: &wire.Request_AddDevice{AddDevice: &wire.AddDevice{AuthKey: ans.AuthKey, RegistrationId: ans.RegistrationID}}})
	if errors.Is(err, wire.ErrTooManyDevices) {
		return 0, fmt.Errorf("this account has the most devices the server allows: remove one first (sky devices remove N): %w", err)
	} else if err != nil {
		return 0, fmt.Errorf("registering the new device at the server failed: %w", err)
	}
	dev := r.GetDeviceAdded().GetDevice()
	if err := d.finishLink(ctx, lc, eph, ans, dev); err != nil {
		// Undo the registration: a device nobody signed for is useless.
		cn.Call(context.WithoutCancel(ctx), &wire.Request{Op: &wire.Request_RemoveDevice{RemoveDevice: &wire.RemoveDevice{Device: dev}}})
		return 0, err
	}
	return dev, nil
}

// finishLink signs the list with the new device and sends it the account.
func (d *Devices) finishLink(ctx context.Context, lc linkproto.Code, eph linkproto.Ephemeral, ans linkproto.Answer, dev uint32) error {
	cn, err := d.core.Conn(ctx)
	if err != nil {
		return err
	}
	prev, err := d.current()
	if err != nil {
		return err
	}
	nd := devlist.Device{ID: dev, RegistrationID: ans.RegistrationID}
	copy(nd.AuthKey[:], ans.AuthKey)
	raw, err := d.core.PublishList(ctx, cn, prev.Next(append(prev.Devices, nd)))
	if err != nil {
		return err
	}
	acct, err := d.core.LinkAccount(dev, raw)
	if err != nil {
		return err
	}
	sealed, err := lc.SealAccount(eph, ans, acct.Encode())
	if err != nil {
		return err
	}
	if err := core.LinkPut(ctx, cn, lc.ID(), 2, sealed); err != nil {
		return err
	}
	return d.core.AnnounceDevices()
}

// Remove removes device id from the account: it signs and publishes a
// list without it (which is the removed device's order to wipe itself,
// and tells contacts to stop encrypting to it) and deletes its
// registration at the server.
func (d *Devices) Remove(ctx context.Context, id uint32) error {
	if id == d.core.DeviceID() {
		return ErrRemoveSelf
	}
	l, err := d.current()
	if err != nil {
		return err
	}
	if _, ok := l.Has(id); !ok {
		return ErrNotOnList
	}
	cn, err := d.core.Conn(ctx)
	if err != nil {
		return err
	}
	if _, err := d.core.PublishList(ctx, cn, l.Next(l.Without(id))); err != nil {
		return err
	}
	if err := d.core.AnnounceDevices(); err != nil {
		return err
	}
	_, err = cn.Call(ctx, &wire.Request{Op: &wire.Request_RemoveDevice{RemoveDevice: &wire.RemoveDevice{Device: id}}})
	if err != nil && !errors.Is(err, wire.ErrNotFound) {
		return fmt.Errorf("the signed list without device %d is published (contacts stop sending to it), but the server did not delete its registration: %w", id, err)
	}
	return nil
}
