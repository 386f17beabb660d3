package cluster_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/blob/diskblob"
	"github.com/skymsg/sky/wire"
)

// TestSharedBlobQuota: an account's attachment byte quota is one for the
// whole cluster. With a quota of three of the smallest blobs, uploads
// started on two nodes spend it together, and the fourth is refused on
// either (per node, as before, each node allowed three).
func TestSharedBlobQuota(t *testing.T) {
	st, err := diskblob.Open(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	size := wire.BlobLen(wire.MinBlobPadded)
	tc := newCluster(t, 2, server.Config{Blobs: server.BlobConfig{Store: st, Quota: server.Rate{Per: 1, Burst: int(3 * size)}}})
	_, d := tc.register(0)
	create := func(node int) error {
		_, err := tc.connect(node, d).Call(ctxT(t), &wire.Request{Op: &wire.Request_BlobCreate{BlobCreate: &wire.BlobCreate{Size: uint64(size)}}})
		return err
	}
	for i, node := range []int{0, 1, 0} {
		if err := create(node); err != nil {
			t.Fatalf("upload %d on node %d, within the quota: %v", i, node, err)
		}
	}
	for node := range 2 {
		we := expectCode(t, create(node), wire.Code_QUOTA_EXCEEDED)
		if we.RetryAfter() <= 0 {
			t.Fatalf("node %d: no retry_after", node)
		}
	}
	tc.clock.Advance(time.Duration(size) * time.Second) // 1 byte a second: one more blob
	if err := create(1); err != nil {
		t.Fatalf("after the quota refilled: %v", err)
	}
}
