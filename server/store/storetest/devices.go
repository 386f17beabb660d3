package storetest

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/skymsg/sky/server/store"
)

// testDevices: more devices per account, numbers never reused, the limit,
// removal with the device's keys and queue, and the opaque signed list.
func testDevices(t *testing.T, s store.Store) {
	newAccount(t, s, "bob")
	list, devs, err := s.DeviceList(ctx(t), "bob")
	if err != nil || list != nil || !slices.Equal(devs, []uint32{1}) {
		t.Fatalf("DeviceList of a new account = %x, %v, %v", list, devs, err)
	}
	if _, _, err := s.DeviceList(ctx(t), "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeviceList(nobody): err = %v, want ErrNotFound", err)
	}
	ak := randBytes(32)
	d2, err := s.AddDevice(ctx(t), "bob", ak, 77, 3)
	if err != nil || d2 != 2 {
		t.Fatalf("AddDevice = %d, %v; want 2", d2, err)
	}
	if d, err := s.Device(ctx(t), store.Address{Account: "bob", Device: 2}); err != nil || !bytes.Equal(d.AuthKey, ak) || d.RegistrationID != 77 {
		t.Fatalf("Device 2 = %+v, %v", d, err)
	}
	if _, err := s.AddDevice(ctx(t), "bob", randBytes(32), 78, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddDevice(ctx(t), "bob", randBytes(32), 79, 3); !errors.Is(err, store.ErrTooManyDevices) {
		t.Fatalf("a fourth device with max 3: err = %v", err)
	}
	if _, err := s.AddDevice(ctx(t), "nobody", randBytes(32), 79, 3); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AddDevice(nobody): err = %v", err)
	}
	bob3 := store.Address{Account: "bob", Device: 3}
	uploadFull(t, s, bob3, 2)
	send(t, s, store.NewMessage{To: bob3, Received: t0, Body: []byte("x")})
	if err := s.RemoveDevice(ctx(t), bob3); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveDevice(ctx(t), bob3); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second RemoveDevice: err = %v", err)
	}
	if ms, err := s.Pending(ctx(t), bob3, 0, t0.Add(-time.Hour), 10); err != nil || len(ms) != 0 {
		t.Fatalf("removed device's queue = %d messages, %v", len(ms), err)
	}
	if bs, err := s.TakeBundles(ctx(t), "bob", 3, false); !errors.Is(err, store.ErrNotFound) && len(bs) != 0 {
		t.Fatalf("removed device's bundles = %+v, %v", bs, err)
	}
	d4, err := s.AddDevice(ctx(t), "bob", randBytes(32), 80, 3)
	if err != nil || d4 != 4 {
		t.Fatalf("AddDevice after a removal = %d, %v; want 4 (numbers are not reused)", d4, err)
	}
	if err := s.SetDeviceList(ctx(t), "bob", []byte("signed v1")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDeviceList(ctx(t), "bob", []byte("signed v2")); err != nil {
		t.Fatal(err)
	}
	list, devs, err = s.DeviceList(ctx(t), "bob")
	if err != nil || string(list) != "signed v2" || !slices.Equal(devs, []uint32{1, 2, 4}) {
		t.Fatalf("DeviceList = %q, %v, %v", list, devs, err)
	}
	if err := s.SetDeviceList(ctx(t), "nobody", []byte("x")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetDeviceList(nobody): err = %v", err)
	}
	if err := s.DeleteAccount(ctx(t), "bob"); err != nil {
		t.Fatal(err)
	}
	newAccount(t, s, "bob")
	if list, _, err := s.DeviceList(ctx(t), "bob"); err != nil || list != nil {
		t.Fatalf("a deleted account's list survived: %q, %v", list, err)
	}
}

// testLinks: write-once slots that expire.
func testLinks(t *testing.T, s store.Store) {
	id := randBytes(16)
	if _, err := s.Link(ctx(t), id, 0, t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unwritten slot: err = %v", err)
	}
	if err := s.PutLink(ctx(t), id, 0, []byte("offer"), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLink(ctx(t), id, 0, []byte("other"), t0.Add(time.Minute)); !errors.Is(err, store.ErrLinkTaken) {
		t.Fatalf("second write: err = %v, want ErrLinkTaken", err)
	}
	if err := s.PutLink(ctx(t), id, 1, []byte("answer"), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if b, err := s.Link(ctx(t), id, 0, t0); err != nil || string(b) != "offer" {
		t.Fatalf("Link = %q, %v", b, err)
	}
	if _, err := s.Link(ctx(t), id, 0, t0.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired slot: err = %v", err)
	}
	if n, err := s.SweepLinks(ctx(t), t0.Add(time.Minute)); err != nil || n != 2 {
		t.Fatalf("SweepLinks = %d, %v; want 2", n, err)
	}
}
