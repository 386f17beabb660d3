package client

import (
	"reflect"
	"testing"
	"time"
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
// a group message's outbox item, broadcast lists) arbitrary bytes: errors, never panics, and
// what decodes encodes to the same.
func FuzzGroupRecords(f *testing.F) {
	f.Add(encodeHeld([]heldItem{{Kind: heldMessage, Peer: "abcdefghjk", Dev: 1, Bytes: []byte{1}, At: time.Unix(5, 0), Next: 2}}))
	f.Add([]byte(encodeOutItem(outItem{Group: make([]byte, 16), Sealed: []deviceCiphertext{{Device: 1, Bytes: []byte{7, 0x33}}}})))
	f.Add(encodeBroadcastLists([]BroadcastList{{Name: "team", Members: []string{"abcdefghjk", "mnpqrstuvw"}}}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeBroadcastLists(b)
		if items, err := decodeHeld(b); err == nil {
			again, err := decodeHeld(encodeHeld(items))
			if err != nil || !reflect.DeepEqual(again, items) {
				t.Fatalf("held items do not round-trip: %v", err)
			}
		}
		if it, err := decodeOutItem(b); err == nil && it.Group != nil && len(it.Sealed) == 0 {
			t.Fatal("a group item without its sender-key message decoded")
		}
	})
}
