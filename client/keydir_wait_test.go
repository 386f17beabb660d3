package client

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/keydir"
)

// TestFirstMessageWaitsForKeyDirectory: a first message to an account the
// key directory has not published yet waits, and Flush says so (a
// *KeyDirectoryWaitError naming the contact and the directory, which the
// CLI prints as its pending note) rather than a bare deadline; after the
// directory's next head it goes out by itself.
func TestFirstMessageWaitsForKeyDirectory(t *testing.T) {
	s := startSkydConfig(t, server.Config{KeyDir: server.KeyDirConfig{Interval: time.Hour}})
	if _, err := keydir.CertifyWithRoot(context.Background(), s.st.(keydir.Store), s.trust, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.srv.KeyDir().Tick(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil)) // registered after the last head: not in the directory
	alice.send(bob.c.ID(), "first")
	err := alice.c.Flush(shortCtx(t, 1500*time.Millisecond))
	var wait *KeyDirectoryWaitError
	if !errors.As(err, &wait) || wait.Peer != bob.c.ID() || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush while the key directory lacks Bob: %v (%T), want a *KeyDirectoryWaitError", err, err)
	}
	if !strings.Contains(err.Error(), "waiting for the key directory") {
		t.Fatalf("the note does not say what it waits for: %q", err)
	}
	if err := s.srv.KeyDir().Tick(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	alice.flush()
	if got := texts(t, bob, 1); got[0] != "first" {
		t.Fatalf("bob got %q", got)
	}
}
