package broadcast

import "testing"

// FuzzBroadcastLists feeds the stored form of broadcast lists arbitrary
// bytes: errors, never panics.
func FuzzBroadcastLists(f *testing.F) {
	f.Add(encodeBroadcastLists([]BroadcastList{{Name: "team", Members: []string{"abcdefghjk", "mnpqrstuvw"}}}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeBroadcastLists(b)
	})
}
