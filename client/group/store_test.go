package group

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/client/store/keyfile"
)

func TestHeldEncoding(t *testing.T) {
	items := []heldItem{
		{Kind: heldSenderKey, Peer: "abcdefghjk", Dev: 1, Bytes: []byte{0x33, 1}, At: time.Unix(0, 1_790_000_000_000_000_000), Next: 5},
		{Kind: heldMessage, Peer: "mnpqrstuvw", Dev: 1, Bytes: []byte{0x33, 2, 3}, At: time.Unix(0, 1_790_000_000_000_000_001), Key: []byte{5, 1, 2}},
	}
	got, err := decodeHeld(encodeHeld(items))
	if err != nil || !reflect.DeepEqual(got, items) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	bad := encodeHeld([]heldItem{{Kind: 9, Peer: "x", Dev: 1, At: time.Unix(1, 0)}})
	if _, err := decodeHeld(bad); err == nil {
		t.Fatal("an item of unknown kind decoded")
	}
}

// FuzzGroupRecords feeds the group records the client stores (held items,
// a group message's outbox item) arbitrary bytes: errors, never panics, and
// what decodes encodes to the same.
func FuzzGroupRecords(f *testing.F) {
	f.Add(encodeHeld([]heldItem{{Kind: heldMessage, Peer: "abcdefghjk", Dev: 1, Bytes: []byte{1}, At: time.Unix(5, 0), Next: 2}}))
	f.Add([]byte(core.EncodeOutItem(core.OutItem{Group: make([]byte, 16), Sealed: []core.DeviceCiphertext{{Device: 1, Bytes: []byte{7, 0x33}}}})))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if items, err := decodeHeld(b); err == nil {
			again, err := decodeHeld(encodeHeld(items))
			if err != nil || !reflect.DeepEqual(again, items) {
				t.Fatalf("held items do not round-trip: %v", err)
			}
		}
		if it, err := core.DecodeOutItem(b); err == nil && it.Group != nil && len(it.Sealed) == 0 {
			t.Fatal("a group item without its sender-key message decoded")
		}
	})
}

// TestHeldBounded: what is held for groups is bounded in items, in bytes
// per group and in groups, the oldest going first — a server can make up
// held items at will (from senders with no session, under certificates it
// mints), as large as a sealed envelope allows.
func TestHeldBounded(t *testing.T) {
	st, err := store.Create(filepath.Join(t.TempDir(), "s"), []byte("pw"), store.Options{KDF: keyfile.Params{Time: 1, MemoryKiB: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Unix(1_790_000_000, 0)
	item := func(n, size int) heldItem {
		b := make([]byte, size)
		b[0] = byte(n)
		return heldItem{Kind: heldMessage, Peer: "abcdefghjk", Dev: 1, Bytes: b, At: at.Add(time.Duration(n)), Key: make([]byte, 33)}
	}
	big, small, other := content.GroupID{1}, content.GroupID{2}, content.GroupID{3}
	err = st.Update(func(tx *store.Tx) error {
		for n := range 2 * maxHeldGroups {
			if err := hold(tx, content.GroupID{9, byte(n)}, item(n, 10)); err != nil {
				return err
			}
		}
		for n := range 20 { // 20 items of 256 KiB: 5 MiB unless bounded
			if err := hold(tx, big, item(n, 256<<10)); err != nil {
				return err
			}
		}
		for n := range maxHeldPerGroup + 20 {
			if err := hold(tx, small, item(n, 100)); err != nil {
				return err
			}
		}
		if err := hold(tx, other, item(0, maxHeldBytesPerGroup+1)); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = st.View(func(tx *store.Tx) error {
		b, err := core.Setting(tx, setGroupHeld+big.String())
		if err != nil {
			return err
		}
		items, err := decodeHeld(b)
		if err != nil {
			return err
		}
		if len(b) > maxHeldBytesPerGroup+1024 || len(items) == 0 || items[len(items)-1].Bytes[0] != 19 {
			t.Errorf("a group holds %d bytes in %d items (newest kept: %v)", len(b), len(items), len(items) > 0 && items[len(items)-1].Bytes[0] == 19)
		}
		if items, err := loadHeld(tx, small); err != nil || len(items) != maxHeldPerGroup || items[0].Bytes[0] != 20 {
			t.Errorf("small items: %d kept, %v", len(items), err)
		}
		if items, err := loadHeld(tx, other); err != nil || len(items) != 0 {
			t.Errorf("an item over the byte bound was kept: %d, %v", len(items), err)
		}
		groups, err := core.StringList(tx, setHeldGrps)
		if err != nil || len(groups) > maxHeldGroups {
			t.Errorf("%d groups hold items, %v", len(groups), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
