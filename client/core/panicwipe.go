package core

import (
	"context"
	"crypto/ed25519"
	"errors"
	"time"

	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/client/devices/devlist"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/wire"
)

// Panic on every device. When the user chooses it, the panic passphrase
// typed on this device also orders the account's other devices to erase
// themselves. The panic slot cannot sign (it opens only the key file's
// payload, never the store with the identity key), so the order is signed
// when the user makes the choice: a device list holding this device alone,
// with a version wipeAhead above the account's list of the day, sealed in
// the payload under the panic key only (as the backup paths are). At panic
// it is published before the erasure; every other device finds itself off a
// validly signed newer list when it next connects and erases itself, as a
// device the user removed does (maintainOwnList). The version gap keeps the
// order newer than any list the account signs afterwards (it would take
// 2^32 changes to catch up), so devices linked later are removed too.
//
// Why not seal the identity key instead: whoever learns the panic
// passphrase and holds a copy of the key file could open the payload without
// erasing anything, and with the identity key sign a list with a device of
// their own on it (a ghost device every contact would encrypt to). The
// pre-signed list gives them only what the panic does: the other devices
// erase themselves. See docs/protocol.md, "Panic on every device".

// wipeAhead is how far above the account's current version the pre-signed
// list is.
const wipeAhead = 1 << 32

// ErrPanicChoices refuses deleting the account together with wiping the
// other devices.
var ErrPanicChoices = errors.New("choose either to delete the account or to wipe the other devices on panic, not both: once the account is deleted the other devices can no longer read the list that orders them to erase themselves")

// SetPanicOptions sets (or replaces) the panic passphrase with the user's
// choices: deleteAccount deletes the account on the server; wipeDevices
// makes the other devices of the account erase themselves.
func (c *Core) SetPanicOptions(passphrase []byte, deleteAccount, wipeDevices bool) error {
	if deleteAccount && wipeDevices {
		return ErrPanicChoices
	}
	o := store.PanicOptions{DeleteAccount: deleteAccount}
	if wipeDevices {
		raw, err := c.wipeList()
		if err != nil {
			return err
		}
		o.WipeList = raw
	}
	err := c.St.SetPanicOptions(passphrase, o)
	if errors.Is(err, store.ErrClosed) {
		return ErrClosed
	}
	return err
}

// PanicWipesDevices reports whether the panic passphrase also makes the
// account's other devices erase themselves.
func (c *Core) PanicWipesDevices() (bool, error) { return c.St.PanicWipesDevices() }

// wipeList signs the list that leaves this device alone on the account,
// wipeAhead versions above the accepted one.
func (c *Core) wipeList() ([]byte, error) {
	var l *devlist.List
	if err := c.View(func(tx *store.Tx) (err error) { l, _, err = AcceptedList(tx, c.acct.ID); return }); err != nil {
		return nil, err
	}
	v := uint64(0)
	if l != nil {
		v = l.Version
	}
	next := &devlist.List{Account: c.acct.ID, Version: v + wipeAhead, Devices: []devlist.Device{c.ownDevice()}}
	return devlist.Sign(next, c.Local.KeyPair.Private)
}

// publishWipeList publishes the pre-signed list after a panic unlock, so
// that the account's other devices erase themselves: connect, authenticate
// as this device, store the list. It tries for up to 15 seconds within
// ctx; a failure stays silent (the panic must look like a fresh install),
// the local wipe has happened either way.
func publishWipeList(ctx context.Context, a store.Account, list []byte) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if len(a.Credential) != ed25519.SeedSize {
		return
	}
	key := ed25519.NewKeyFromSeed(a.Credential)
	defer clear(key)
	for ctx.Err() == nil {
		if putList(ctx, a, key, list) == nil {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// putList stores list at the server, then deletes the registrations of the
// devices the server's previous list named, but this one: the server then
// refuses them, and each reads the account's list at once and, finding
// itself off it, erases itself (removedByAccount). A device the server
// does not name still erases itself when it next connects.
func putList(ctx context.Context, a store.Account, key ed25519.PrivateKey, list []byte) error {
	cn, err := conn.Dial(ctx, a.Server)
	if err != nil {
		return err
	}
	defer cn.Close()
	if _, err := cn.Authenticate(ctx, a.ID, a.DeviceID, key); err != nil {
		return err
	}
	var others []devlist.Device
	r, err := cn.Call(ctx, &wire.Request{Op: &wire.Request_GetDeviceList{GetDeviceList: &wire.GetDeviceList{Account: a.ID}}})
	if err == nil {
		if old, err := devlist.Decode(r.GetDeviceList().GetList()); err == nil {
			others = old.Without(a.DeviceID)
		}
	}
	if _, err = cn.Call(ctx, &wire.Request{Op: &wire.Request_PutDeviceList{PutDeviceList: &wire.PutDeviceList{List: list}}}); err != nil {
		return err
	}
	for _, d := range others {
		cn.Call(ctx, &wire.Request{Op: &wire.Request_RemoveDevice{RemoveDevice: &wire.RemoveDevice{Device: d.ID}}})
	}
	return nil
}
