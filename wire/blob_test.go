package wire

import "testing"

func TestBlobPadded(t *testing.T) {
	for _, tc := range []struct{ n, want int64 }{
		{0, 4096}, {1, 4096}, {4096, 4096}, {4097, 4608}, {4608, 4608}, {4609, 5120},
		{8192, 8192}, {8193, 9216}, {1 << 20, 1 << 20}, {1<<20 + 1, 1<<20 + 1<<17},
		{100 << 20, 104 << 20}, {MaxBlobPadded, MaxBlobPadded}, {MaxBlobPadded + 1, 0}, {-1, 0},
	} {
		if got := BlobPadded(tc.n); got != tc.want {
			t.Errorf("BlobPadded(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

// TestBlobBuckets checks the documented promises: at most 12.5% overhead
// above 4 KiB, eight classes per doubling, and BlobPaddedOf inverting
// BlobLen exactly on the classes and nowhere else.
func TestBlobBuckets(t *testing.T) {
	classes := map[int64]bool{}
	for n := int64(1); n <= 64<<20; n = n*17/16 + 1 {
		p := BlobPadded(n)
		if p < n || (n > MinBlobPadded && float64(p-n) > float64(n)/8) {
			t.Fatalf("BlobPadded(%d) = %d: overhead out of bounds", n, p)
		}
		if BlobPadded(p) != p {
			t.Fatalf("BlobPadded(%d) = %d is not a fixed point", n, p)
		}
		l := BlobLen(p)
		if got := BlobPaddedOf(l); got != p {
			t.Fatalf("BlobPaddedOf(BlobLen(%d)=%d) = %d", p, l, got)
		}
		for _, d := range []int64{-1, 1, BlobChunkTag} {
			if got := BlobPaddedOf(l + d); got != 0 && BlobLen(got) != l+d {
				t.Fatalf("BlobPaddedOf(%d) = %d, which is not its padded size", l+d, got)
			}
		}
		classes[p] = true
	}
	// 4 KiB .. 64 MiB is 14 doublings of 8 classes, plus 4 KiB itself.
	if len(classes) > 14*8+1 {
		t.Errorf("%d size classes up to 64 MiB, want at most %d", len(classes), 14*8+1)
	}
	if BlobPaddedOf(BlobLen(4096)+1) != 0 || BlobPaddedOf(1000) != 0 || BlobPaddedOf(0) != 0 {
		t.Error("BlobPaddedOf accepts a length that is not a class")
	}
}
