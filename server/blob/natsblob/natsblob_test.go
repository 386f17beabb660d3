package natsblob

import (
	"context"
	"testing"
	"time"

	"github.com/skymsg/sky/server/blob"
	"github.com/skymsg/sky/server/blob/blobtest"
	"github.com/skymsg/sky/server/cluster"
)

// TestConformance runs the suite against the NATS on 127.0.0.1:4222 (skips
// locally without it, fails in CI).
func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) func() blob.Store {
		bucket := "sky-blobs-" + cluster.TestName(t)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := Remove(ctx, cluster.TestURL, bucket); err != nil {
				t.Errorf("removing %s: %v", bucket, err)
			}
		})
		return func() blob.Store {
			s, err := Open(t.Context(), Config{URL: cluster.TestURL, Bucket: bucket, TTL: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}
