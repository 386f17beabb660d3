package server

import (
	"errors"

	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/wire"
)

// Linked devices. The server keeps each account's device list as opaque
// bytes the account's identity key signed: it stores and serves the list,
// and clients check it, so a device the server adds on its own (a ghost)
// gets nothing from anyone. What the server decides itself is only which
// devices may authenticate: a device of the account adds one (AddDevice, up
// to Config.MaxDevices) and removes one (RemoveDevice: its keys, prekeys and
// queue go at once, its connections are closed).
//
// Linking meets in write-once link slots named by a random ID only the two
// devices know: slot 0 (the offer: the old device's ephemeral key with a
// MAC under the link code) and slot 2 (the account sealed for the new
// device) come from an authenticated device; slot 1 (the new device's
// answer) from any connection, since the new device has no account yet.
// Every slot expires after wire.LinkTTL and holds nothing the server can
// open.

// DefaultMaxDevices is how many devices an account may have at once unless
// the operator says otherwise; DeviceLimit is the most an operator may
// allow (the signed list's format holds 16).
const (
	DefaultMaxDevices = 5
	DeviceLimit       = 16
)

// maxAnswerBytes bounds slot 1, the only slot an unauthenticated connection
// writes: an ephemeral key, a device's keys and a MAC.
const maxAnswerBytes = 512

// handleDevices handles the linked-device requests; false if req is not one.
func (c *conn) handleDevices(req *wire.Request) bool {
	id := req.GetId()
	switch op := req.GetOp().(type) {
	case *wire.Request_PutDeviceList:
		c.putDeviceList(id, op.PutDeviceList)
	case *wire.Request_GetDeviceList:
		c.getDeviceList(id, op.GetDeviceList)
	case *wire.Request_AddDevice:
		c.addDevice(id, op.AddDevice)
	case *wire.Request_RemoveDevice:
		c.removeDevice(id, op.RemoveDevice)
	case *wire.Request_LinkPut:
		c.linkPut(id, op.LinkPut)
	case *wire.Request_LinkGet:
		c.linkGet(id, op.LinkGet)
	default:
		return false
	}
	return true
}

func (c *conn) putDeviceList(id uint64, r *wire.PutDeviceList) {
	if !c.isAuthed() {
		c.replyErr(id, errNotAuthenticated)
		return
	}
	if n := len(r.GetList()); n == 0 || n > wire.MaxDeviceListBytes {
		c.replyErr(id, badRequest("put_device_list needs a signed list of 1 to %d bytes", wire.MaxDeviceListBytes))
		return
	}
	if err := c.s.st.SetDeviceList(c.s.ctx, c.address().Account, r.GetList()); err != nil {
		c.replyErr(id, c.storeError(err))
		return
	}
	c.s.keyDirQueueList(c.address().Account, r.GetList())
	c.reply(id, &wire.Response{Result: &wire.Response_DeviceListSet{DeviceListSet: &wire.DeviceListSet{}}})
}

// getDeviceList answers on any connection: a removed device, which can no
// longer authenticate, reads its own account's list to learn that the user
// removed it. The list holds public keys only.
func (c *conn) getDeviceList(id uint64, r *wire.GetDeviceList) {
	if !ValidAccountID(r.GetAccount()) {
		c.replyErr(id, badRequest("get_device_list needs a valid account ID"))
		return
	}
	acct, err := c.s.st.Account(c.s.ctx, r.GetAccount())
	if err != nil {
		c.replyErr(id, c.storeError(err))
		return
	}
	list, devs, err := c.s.st.DeviceList(c.s.ctx, r.GetAccount())
	if err != nil {
		c.replyErr(id, c.storeError(err))
		return
	}
	c.reply(id, &wire.Response{Result: &wire.Response_DeviceList{DeviceList: &wire.DeviceList{List: list, IdentityKey: acct.IdentityKey, Registered: devs}}})
}

func (c *conn) addDevice(id uint64, r *wire.AddDevice) {
	if !c.isAuthed() {
		c.replyErr(id, errNotAuthenticated)
		return
	}
	if len(r.GetAuthKey()) != 32 || r.GetRegistrationId() == 0 {
		c.replyErr(id, badRequest("add_device needs a 32-byte Ed25519 key and a registration ID"))
		return
	}
	if e := c.mayPost(c.s.now()); e != nil {
		c.replyErr(id, e)
		return
	}
	dev, err := c.s.st.AddDevice(c.s.ctx, c.address().Account, r.GetAuthKey(), r.GetRegistrationId(), c.s.cfg.MaxDevices)
	if err != nil {
		c.replyErr(id, c.storeError(err))
		return
	}
	c.reply(id, &wire.Response{Result: &wire.Response_DeviceAdded{DeviceAdded: &wire.DeviceAdded{Device: dev}}})
}

func (c *conn) removeDevice(id uint64, r *wire.RemoveDevice) {
	if !c.isAuthed() {
		c.replyErr(id, errNotAuthenticated)
		return
	}
	a := store.Address{Account: c.address().Account, Device: r.GetDevice()}
	if a.Device == 0 || a.Device == c.address().Device {
		c.replyErr(id, badRequest("remove_device removes another device of this account, by its number from 1"))
		return
	}
	if err := c.s.st.RemoveDevice(c.s.ctx, a); err != nil {
		c.replyErr(id, c.storeError(err))
		return
	}
	if other := c.s.hub.device(a); other != nil {
		go other.fail(wire.Code_AUTH_FAILED, "this device was removed from its account", StatusReplaced)
	}
	c.s.connected(a) // other nodes close the removed device's connections there
	c.reply(id, &wire.Response{Result: &wire.Response_DeviceRemoved{DeviceRemoved: &wire.DeviceRemoved{}}})
}

func (c *conn) linkPut(id uint64, r *wire.LinkPut) {
	switch {
	case len(r.GetId()) != wire.LinkIDBytes || r.GetSlot() >= wire.LinkSlots:
		c.replyErr(id, badRequest("link_put needs a %d-byte link ID and a slot below %d", wire.LinkIDBytes, wire.LinkSlots))
		return
	case len(r.GetBlob()) == 0 || len(r.GetBlob()) > wire.MaxLinkBlobBytes || (r.GetSlot() == 1 && len(r.GetBlob()) > maxAnswerBytes):
		c.replyErr(id, badRequest("link_put's blob is empty or too long"))
		return
	case r.GetSlot() != 1 && !c.isAuthed():
		c.replyErr(id, errNotAuthenticated)
		return
	}
	if r.GetSlot() == 1 && !c.linkOffered(id, r.GetId()) {
		return
	}
	err := c.s.st.PutLink(c.s.ctx, r.GetId(), r.GetSlot(), r.GetBlob(), c.s.now().Add(wire.LinkTTL))
	if err != nil {
		c.replyErr(id, c.storeError(err))
		return
	}
	c.reply(id, &wire.Response{Result: &wire.Response_LinkStored{LinkStored: &wire.LinkStored{}}})
}

// linkOffered reports whether link has a live offer (slot 0), replying
// with an error if not: slot 1 is open to any connection, so without this
// a stranger could store answers under any number of made-up IDs.
func (c *conn) linkOffered(id uint64, link []byte) bool {
	_, err := c.s.st.Link(c.s.ctx, link, 0, c.s.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.replyErr(id, wire.NewError(wire.Code_NOT_FOUND, "no link offer with that ID, or it expired: start linking again on the other device"))
		return false
	case err != nil:
		c.replyErr(id, c.storeError(err))
		return false
	}
	return true
}

func (c *conn) linkGet(id uint64, r *wire.LinkGet) {
	if len(r.GetId()) != wire.LinkIDBytes || r.GetSlot() >= wire.LinkSlots {
		c.replyErr(id, badRequest("link_get needs a %d-byte link ID and a slot below %d", wire.LinkIDBytes, wire.LinkSlots))
		return
	}
	b, err := c.s.st.Link(c.s.ctx, r.GetId(), r.GetSlot(), c.s.now())
	if errors.Is(err, store.ErrNotFound) {
		c.replyErr(id, wire.NewError(wire.Code_NOT_FOUND, "that link slot is not written yet, or the link expired"))
		return
	}
	if err != nil {
		c.replyErr(id, c.storeError(err))
		return
	}
	c.reply(id, &wire.Response{Result: &wire.Response_LinkBlob{LinkBlob: &wire.LinkBlob{Blob: b}}})
}
