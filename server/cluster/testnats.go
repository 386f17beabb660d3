package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/skymsg/sky/internal/testenv"
)

// TestURL is the NATS server tests use: 127.0.0.1:4222 with JetStream (see
// .ci/services).
const TestURL = "nats://127.0.0.1:4222"

// TestName returns a fresh cluster name for one test, after checking that
// NATS with JetStream answers at TestURL (testenv.Unavailable otherwise:
// skip locally, fail under CI). When the test ends, everything the cluster
// kept in NATS is deleted.
func TestName(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, err := nats.Connect(TestURL, nats.Timeout(2*time.Second))
	if err != nil {
		testenv.Unavailable(t, "NATS", "cannot connect to "+TestURL+": "+err.Error()+"; start nats-server -js (bash .ci/services)")
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err == nil {
		_, err = js.AccountInfo(ctx)
	}
	if err != nil {
		testenv.Unavailable(t, "NATS", "JetStream is not enabled at "+TestURL+": "+err.Error()+"; start nats-server with -js")
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "t-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := Remove(ctx, TestURL, name); err != nil {
			t.Errorf("removing test cluster %s from NATS: %v", name, err)
		}
	})
	return name
}
