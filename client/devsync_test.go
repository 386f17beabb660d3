package client

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/skymsg/sky/wire"
)

// TestSyncBeforeNewDeviceKeys: Bob sends a text right after linking a
// second device, while that device is on the signed list but has not yet
// uploaded its keys (the proxy holds its upload). The sent-message sync to
// Bob's own account waits in the outbox, and Flush says so, instead of
// being dropped without a word; once the keys are there, the new device
// shows the text in its history.
func TestSyncBeforeNewDeviceKeys(t *testing.T) {
	s := startSkyd(t)
	opts := testOptions(nil)
	alice := newUser(t, s, opts)
	bob := newUser(t, s, opts)
	a, b := alice.c.ID(), bob.c.ID()
	alice.send(b, "hi")
	texts(t, bob, 1)
	bob.c.Accept(a)

	e := startEvil(t, s)
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.set(nil, func(acct string, f *wire.Frame) []*wire.Frame {
		if acct == b && f.GetRequest().GetUploadPrekeys() != nil {
			once.Do(func() { close(held); <-release })
		}
		return []*wire.Frame{f}
	})
	codes, linked := make(chan string, 1), make(chan error, 1)
	go func() {
		_, err := bob.c.LinkDevice(ctxT(t), func(code string) { codes <- code })
		linked <- err
	}()
	code := <-codes
	dir := filepath.Join(t.TempDir(), "home")
	type joinResult struct {
		c   *Client
		err error
	}
	joined := make(chan joinResult, 1)
	go func() {
		c, err := Link(ctxT(t), dir, pass, e.url(), s.root, code, opts)
		joined <- joinResult{c, err}
	}()
	select {
	case <-held:
	case <-time.After(15 * time.Second):
		t.Fatal("the new device did not get as far as uploading its keys")
	}
	if err := <-linked; err != nil {
		t.Fatalf("LinkDevice: %v", err)
	}

	const text = "sent before device 2 had keys"
	bob.send(a, text)
	if got := texts(t, alice, 1); got[0] != text {
		t.Fatalf("alice got %q", got)
	}
	fctx, cancel := context.WithTimeout(ctxT(t), 3*time.Second)
	err := bob.c.Flush(fctx)
	cancel()
	if !errors.Is(err, ErrKeysPending) {
		t.Errorf("Flush = %v, want ErrKeysPending: the sync to device 2 has no keys to be encrypted to yet", err)
	}

	close(release)
	r := <-joined
	if r.err != nil {
		t.Fatalf("Link: %v", r.err)
	}
	bob2 := &user{t: t, dir: dir, c: r.c, opts: opts}
	t.Cleanup(func() { bob2.close() })
	bob2.start()
	waitFor(t, "the sync to reach device 2", func() bool { return slices.Contains(historyTexts(t, bob2.c, a), ">"+text) })
	bob.flush()
}
