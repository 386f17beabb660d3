package transparency

import (
	"errors"
	"testing"

	"github.com/skymsg/sky/client/devices/devlist"
	"github.com/skymsg/sky/keytrans"
	"github.com/skymsg/sky/protocol/curve"
)

// TestCheckList: a contact's device list is accepted only as the key
// directory's devices/ entry shows it; a list the entry contradicts (same
// version, other digest: two lists shown to two contacts; or an older
// version) is an alarm; a newer one, or a multi-device list without an
// entry, waits; a one-device list without an entry (older directories)
// is accepted.
func TestCheckList(t *testing.T) {
	e := newEnv(t)
	d := [32]byte{1, 2, 3}
	if err := e.srv.KeyDir().Queue(t.Context(), keytrans.DeviceListLabel(e.bob.Account), keytrans.DeviceListValue(3, d)); err != nil {
		t.Fatal(err)
	}
	e.tick()
	k := e.checker(nil)
	for _, c := range []struct {
		name    string
		account string
		version uint64
		digest  [32]byte
		devices int
		want    string // "", "alarm" or "wait"
	}{
		{"the directory's list", e.bob.Account, 3, d, 2, ""},
		{"another list of the same version", e.bob.Account, 3, [32]byte{9}, 2, "alarm"},
		{"an older list", e.bob.Account, 2, [32]byte{8}, 3, "alarm"},
		{"a newer list not yet published", e.bob.Account, 4, [32]byte{7}, 1, "wait"},
		{"one device, no entry", e.alice.Account, 1, [32]byte{6}, 1, ""},
		{"two devices, no entry", e.alice.Account, 2, [32]byte{5}, 2, "wait"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := k.CheckList(t.Context(), e.ac, c.account, c.version, c.digest, c.devices)
			switch c.want {
			case "":
				if err != nil {
					t.Fatal(err)
				}
			case "alarm":
				isAlarm(t, c.name, err)
			case "wait":
				if !errors.Is(err, ErrNotYet) || errors.Is(err, ErrAlarm) {
					t.Fatalf("%v, want ErrNotYet", err)
				}
			}
		})
	}
}

// TestListEnsuredByMonitoring: a list the server holds without a directory
// entry (put before lists were in the directory) is queued by its owner's
// monitoring and then checks out.
func TestListEnsuredByMonitoring(t *testing.T) {
	e := newEnv(t)
	l := &devlist.List{Account: e.alice.Account, Version: 2, Devices: []devlist.Device{{ID: 1, RegistrationID: 1}, {ID: 2, RegistrationID: 2}}}
	raw, err := devlist.Sign(l, curve.GenerateKeyPair().Private)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Store.SetDeviceList(t.Context(), e.alice.Account, raw); err != nil {
		t.Fatal(err)
	}
	k := e.checker(nil)
	if err := k.CheckList(t.Context(), e.ac, e.alice.Account, 2, devlist.Digest(raw), 2); !errors.Is(err, ErrNotYet) {
		t.Fatalf("before monitoring: %v, want ErrNotYet", err)
	}
	if err := k.Monitor(t.Context(), e.ac); err != nil {
		t.Fatal(err)
	}
	e.tick()
	if err := k.CheckList(t.Context(), e.ac, e.alice.Account, 2, devlist.Digest(raw), 2); err != nil {
		t.Fatalf("after monitoring: %v", err)
	}
}
