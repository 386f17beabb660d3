package server_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"slices"
	"testing"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/wire"
)

// TestLinkedDevices: a device adds another (which then authenticates and
// receives its own queue), the limit holds, the list is stored opaquely,
// link slots are write-once and only slot 1 is open to a connection that
// has not authenticated, and a removed device is cut off at once.
func TestLinkedDevices(t *testing.T) {
	e := newEnv(t, server.Config{MaxDevices: 2})
	bob, b := e.register()
	alice, a := e.register()
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	r, err := bob.Call(ctxT(t), &wire.Request{Op: &wire.Request_AddDevice{AddDevice: &wire.AddDevice{AuthKey: pub, RegistrationId: 9}}})
	if err != nil || r.GetDeviceAdded().GetDevice() != 2 {
		t.Fatalf("AddDevice = %v, %v", r, err)
	}
	_, err = bob.Call(ctxT(t), &wire.Request{Op: &wire.Request_AddDevice{AddDevice: &wire.AddDevice{AuthKey: pub, RegistrationId: 9}}})
	expectCode(t, err, wire.Code_TOO_MANY_DEVICES)
	_, err = alice.Call(ctxT(t), &wire.Request{Op: &wire.Request_AddDevice{AddDevice: &wire.AddDevice{AuthKey: pub[:31], RegistrationId: 9}}})
	expectCode(t, err, wire.Code_BAD_REQUEST)

	bob2 := e.connect(&servertest.Device{Account: b.Account, ID: 2, Key: key})
	mustSendTo(t, alice, b.Account, 2, "for device 2")
	expectNext(t, bob2, a, "for device 2")

	if _, err := bob.Call(ctxT(t), &wire.Request{Op: &wire.Request_PutDeviceList{PutDeviceList: &wire.PutDeviceList{List: []byte("signed")}}}); err != nil {
		t.Fatal(err)
	}
	_, err = bob.Call(ctxT(t), &wire.Request{Op: &wire.Request_PutDeviceList{PutDeviceList: &wire.PutDeviceList{List: make([]byte, wire.MaxDeviceListBytes+1)}}})
	expectCode(t, err, wire.Code_BAD_REQUEST)
	stranger := e.dial()
	r, err = stranger.Call(ctxT(t), &wire.Request{Op: &wire.Request_GetDeviceList{GetDeviceList: &wire.GetDeviceList{Account: b.Account}}})
	if err != nil || string(r.GetDeviceList().GetList()) != "signed" || !slices.Equal(r.GetDeviceList().GetRegistered(), []uint32{1, 2}) || len(r.GetDeviceList().GetIdentityKey()) == 0 {
		t.Fatalf("GetDeviceList = %v, %v", r, err)
	}

	id := make([]byte, wire.LinkIDBytes)
	rand.Read(id)
	put := func(c *servertest.Client, slot uint32, blob string) error {
		_, err := c.Call(ctxT(t), &wire.Request{Op: &wire.Request_LinkPut{LinkPut: &wire.LinkPut{Id: id, Slot: slot, Blob: []byte(blob)}}})
		return err
	}
	get := func(c *servertest.Client, slot uint32) (string, error) {
		r, err := c.Call(ctxT(t), &wire.Request{Op: &wire.Request_LinkGet{LinkGet: &wire.LinkGet{Id: id, Slot: slot}}})
		return string(r.GetLinkBlob().GetBlob()), err
	}
	expectCode(t, put(stranger, 0, "offer"), wire.Code_UNAUTHENTICATED)
	expectCode(t, put(stranger, 1, "answer"), wire.Code_NOT_FOUND) // no offer: a stranger stores nothing
	if err := put(bob, 0, "offer"); err != nil {
		t.Fatal(err)
	}
	expectCode(t, put(bob, 0, "again"), wire.Code_LINK_TAKEN)
	if got, err := get(stranger, 0); err != nil || got != "offer" {
		t.Fatalf("slot 0 = %q, %v", got, err)
	}
	_, err = get(stranger, 1)
	expectCode(t, err, wire.Code_NOT_FOUND)
	if err := put(stranger, 1, "answer"); err != nil {
		t.Fatal(err)
	}
	expectCode(t, put(stranger, 3, "x"), wire.Code_BAD_REQUEST)

	_, err = bob.Call(ctxT(t), &wire.Request{Op: &wire.Request_RemoveDevice{RemoveDevice: &wire.RemoveDevice{Device: 1}}})
	expectCode(t, err, wire.Code_BAD_REQUEST) // not itself
	if _, err := bob.Call(ctxT(t), &wire.Request{Op: &wire.Request_RemoveDevice{RemoveDevice: &wire.RemoveDevice{Device: 2}}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-bob2.Done():
	case <-ctxT(t).Done():
		t.Fatal("the removed device's connection stayed open")
	}
	_, err = e.dial().Authenticate(ctxT(t), &servertest.Device{Account: b.Account, ID: 2, Key: key})
	expectCode(t, err, wire.Code_AUTH_FAILED)
	_, err = alice.Call(ctxT(t), servertest.SendRequest(b.Account, 2, []byte("after")))
	expectCode(t, err, wire.Code_NOT_FOUND)
}

func mustSendTo(t *testing.T, c *servertest.Client, account string, dev uint32, text string) {
	t.Helper()
	if err := c.Send(ctxT(t), account, dev, []byte(text)); err != nil {
		t.Fatalf("send: %v", err)
	}
}
