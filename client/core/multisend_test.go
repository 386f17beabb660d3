package core

import (
	"testing"

	"github.com/skymsg/sky/wire"
)

// TestCountPadding: a MultiSend to any count of accounts in one
// power-of-two bucket is as large as one to the bucket's top (the v2
// message grows by one account's wrap and names, the request by its
// token); past the frame limit it is padded only as far as fits.
func TestCountPadding(t *testing.T) {
	size := func(n int) int {
		msg := 1 + 33 + 1100 + n*(multiOverhead-2-wire.DeliveryTokenBytes) // count, ephemeral key, shared part, per account
		return msg + n*(2+wire.DeliveryTokenBytes) + countPadding(n, msg)
	}
	for _, c := range []struct{ lo, hi int }{{3, 4}, {5, 8}, {65, 128}, {513, 1000}} {
		want := size(c.hi)
		for n := c.lo; n <= c.hi; n++ {
			if got := size(n); got != want {
				t.Fatalf("%d accounts: %d bytes, %d for %d", n, got, want, c.hi)
			}
		}
	}
	if size(4) == size(5) {
		t.Fatal("two buckets of one size")
	}
	if p := countPadding(3, wire.MaxClientFrameBytes); p != 0 {
		t.Fatalf("padding past the frame limit: %d", p)
	}
}
