package client

import (
	"errors"
	"slices"
	"testing"

	"github.com/skymsg/sky/wire"
)

// TestEvilSplitDeviceLists: Bob linked a second device and removed it
// again. The server shows Alice the newest list but shows Carol, a new
// contact, Bob's older list that still has the removed device (validly
// signed by Bob, and Carol has seen no newer one), with the removed
// device's keys. The key directory holds the digest of Bob's newest list,
// so Carol refuses the list, is alarmed, and encrypts nothing to the
// removed device; Bob's remaining device still gets her message. Without
// the directory's list entry Carol accepts the old list and encrypts to
// the removed device.
func TestEvilSplitDeviceLists(t *testing.T) {
	s := keyDirSkyd(t)
	ev := startEvil(t, s)
	bob := newUser(t, s, fastLists())
	b := bob.c.ID()
	h := newDevHooks(b)
	ev.set(h.toClient, h.toServer)
	alice := newUserAt(t, s, ev.url(), fastLists())
	bob2 := linkUser(t, s, bob, fastLists())
	alice.send(b, "to both")
	texts(t, bob, 1)
	texts(t, bob2, 1)
	withTwo := listBytes(t, alice, b)
	if err := bob.c.RemoveDevice(ctxT(t), 2); err != nil {
		t.Fatal(err)
	}
	alice.send(b, "after removal")
	texts(t, bob, 1)
	next(t, alice, func(e *DeviceListEvent) bool { return e.Peer == b && slices.Equal(e.Removed, []uint32{2}) })
	before := h.sentTo(2)

	carol := newUserAt(t, s, ev.url(), fastLists())
	c := carol.c.ID()
	h.set(func(h *devHooks) {
		h.list = func(to string, dl *wire.DeviceList) {
			if to == c {
				dl.List, dl.Registered = withTwo, []uint32{1, 2}
			}
		}
		h.revive = h.saved
		saved := h.saved
		h.bundles = func(to string, bs *wire.Bundles) {
			if to == c && saved != nil && !slices.ContainsFunc(bs.Bundles, func(x *wire.Bundle) bool { return x.Device == 2 }) {
				bs.Bundles = append(bs.Bundles, saved)
			}
		}
	})
	carol.send(b, "split")
	if got := texts(t, bob, 1); got[0] != "split" {
		t.Fatalf("bob got %q", got)
	}
	carol.flush()
	if n := h.sentTo(2); n != before {
		t.Fatalf("%d messages were encrypted to the device the key directory's list does not have", n-before)
	}
	refusedList(t, carol, b, "old device list")
	e := next(t, carol, func(e *KeyDirectoryEvent) bool { return e.Peer == b })
	if !errors.Is(e.Err, ErrKeyDirectoryAlarm) {
		t.Fatalf("the event's error: %v", e.Err)
	}
	if devs, _ := carol.c.ContactDevices(b); slices.Contains(devs, 2) {
		t.Fatalf("carol counts bob's devices as %v", devs)
	}
}
