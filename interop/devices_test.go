package interop

import (
	"testing"
)

// TestLinkedDeviceSessions: one account on two devices, as Sky's linked
// devices make it (issue 16): the same name with two device IDs, each its
// own identity, registration and session. The initiator keeps one session
// per device (libsignal's ProtocolAddress is name and device ID), a message
// to each decrypts only on its device, and each device's reply decrypts
// under its own address; a message of one device presented as the other's
// is refused.
func TestLinkedDeviceSessions(t *testing.T) {
	forEachPairing(t, func(t *testing.T, a, b *side) {
		var impl implementation
		for _, i := range implementations {
			if i.name == b.impl {
				impl = i
			}
		}
		b2 := &side{Peer: impl.start(t), t: t, impl: b.impl, role: "responder, second device", rng: b.rng}
		b2.Label = b.impl + " responder, second device"
		dev2 := b.id.Bundle.DeviceID%127 + 1
		var id Identity
		if err := b2.Call(Request{"cmd": "init", "name": b.id.Name, "device_id": dev2, "registration_id": 200 + int(dev2), "one_time_pre_key": true}, &id); err != nil {
			t.Fatalf("%s: init: %v", b2.Label, err)
		}
		b2.id = id
		if b2.addr() == b.addr() || b2.addr().Name != b.addr().Name {
			t.Fatalf("the two devices' addresses: %v and %v", b.addr(), b2.addr())
		}
		establish(t, a, b)
		establish(t, a, b2)
		b.receive(a, a.send(b, 3))
		b2.receive(a, a.send(b2, 3))
		a.receive(b2, b2.send(a, 3))
		a.receive(b, b.send(a, 3))
		// Device 2's message, claimed to come from device 1, does not
		// decrypt under device 1's session.
		wrong := b2.send(a, 1)
		a.reject(b, "InvalidMessage", []Ciphertext{wrong[0].ct}, []string{"device 2's message as device 1's"})
	})
}
