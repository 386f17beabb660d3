package client

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/client/store/keyfile"
)

// scan returns the files under dir (recursively) that contain any needle,
// and what they contain.
func scan(t *testing.T, dir string, needles map[string][]byte) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for name, n := range needles {
			if bytes.Contains(b, n) {
				hits = append(hits, fmt.Sprintf("%s holds %s", path, name))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

func canaryText() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "canary-" + hex.EncodeToString(b)
}

// needles are what must not be found in a client's files: the canary in
// plain and hex, the contact's Sky ID, the contact's identity key and the
// own private identity key.
func needles(c *Client, peerKey []byte, peer, canary string) map[string][]byte {
	return map[string][]byte{
		"the canary":               []byte(canary),
		"the canary in hex":        []byte(hex.EncodeToString([]byte(canary))),
		"the contact's ID":         []byte(peer),
		"the contact's key":        peerKey,
		"the own private identity": c.core.Local.KeyPair.Private.Bytes(),
	}
}

// TestAcceptance21NoTraceAfterExpiry: a message holding a canary, with a 5 s
// timer, expires on both sides; after the clients close, no file of either
// client's home holds the canary, the peer's ID or key bytes.
func TestAcceptance21NoTraceAfterExpiry(t *testing.T) {
	s := startSkyd(t)
	clk := newClock()
	alice := newUser(t, s, testOptions(clk))
	bob := newUser(t, s, testOptions(clk))
	a, b := alice.c.ID(), bob.c.ID()
	if err := alice.c.SetTimer(b, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	next(t, bob, func(e *TimerEvent) bool { return true })
	canary := canaryText()
	alice.send(b, canary+" "+strings.Repeat("x", 20000)) // overflow pages too
	in := next(t, bob, func(e *MessageEvent) bool { return e.Message.Kind == KindText }).Message
	if !strings.HasPrefix(in.Text, canary) {
		t.Fatal("wrong message")
	}
	if _, err := bob.c.MarkRead(in.LocalID); err != nil {
		t.Fatal(err)
	}
	alice.flush()
	bob.flush()
	clk.Advance(6 * time.Second)
	for _, u := range []*user{alice, bob} {
		if _, err := u.c.Expire(); err != nil {
			t.Fatal(err)
		}
	}
	aliceKey, bobKey := alice.c.core.Local.KeyPair.Public.Bytes(), bob.c.core.Local.KeyPair.Public.Bytes()
	na, nb := needles(alice.c, bobKey, b, canary), needles(bob.c, aliceKey, a, canary)
	alice.close()
	bob.close()
	for _, hit := range append(scan(t, alice.dir, na), scan(t, bob.dir, nb)...) {
		t.Error(hit)
	}
	// The store is intact otherwise: the contact and the timer remain.
	alice.reopen()
	if cs, err := alice.c.Contacts(); err != nil || len(cs) != 1 || cs[0].ID != b {
		t.Fatalf("contacts after reopening: %v, %v", cs, err)
	}
	if d, err := alice.c.Timer(b); err != nil || d != 5*time.Second {
		t.Fatalf("timer after reopening: %v, %v", d, err)
	}
}

// TestAcceptance22Panic: the panic passphrase, typed at Open, erases the
// store (and with the user's choice the server account); the directory then
// holds nothing, the real passphrase opens nothing, and both passphrases
// cost the same work.
func TestAcceptance22Panic(t *testing.T) {
	s := startSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	a, b := alice.c.ID(), bob.c.ID()
	canary := canaryText()
	alice.send(b, canary)
	texts(t, bob, 1)
	bob.c.Accept(a)
	bob.send(a, "reply "+canary)
	texts(t, alice, 1)
	duress := []byte("duress duress")
	if err := alice.c.SetPanic(duress, true); err != nil {
		t.Fatal(err)
	}
	if set, del, err := alice.c.PanicSettings(); !set || !del || err != nil {
		t.Fatalf("panic settings %v %v %v", set, del, err)
	}
	na := needles(alice.c, bob.c.core.Local.KeyPair.Public.Bytes(), b, canary)
	alice.close()

	// Same work for the real and the panic passphrase.
	d0, s0 := keyfile.Work()
	c, err := Open(ctxT(t), alice.dir, pass, alice.opts)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	d1, s1 := keyfile.Work()
	if _, err := Open(ctxT(t), alice.dir, duress, alice.opts); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("panic unlock: %v", err)
	}
	d2, s2 := keyfile.Work()
	if d1-d0 != d2-d1 || s1-s0 != s2-s1 || d1-d0 != 1 {
		t.Fatalf("real unlock: %d derivations, %d slot trials; panic: %d, %d", d1-d0, s1-s0, d2-d1, s2-s1)
	}
	for _, hit := range scan(t, alice.dir, na) {
		t.Error(hit)
	}
	if entries, err := os.ReadDir(alice.dir); err == nil && len(entries) > 0 {
		t.Errorf("the home still holds %d files", len(entries))
	}
	if _, err := Open(ctxT(t), alice.dir, pass, alice.opts); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("the real passphrase after panic: %v", err)
	}
	// The account is gone from the server too.
	bob.send(a, "are you there?")
	// Bob had Alice's key: to him the refusal of her token could be the
	// server's lie, so he is told and sends as a request only by choice.
	next(t, bob, func(e *AccessRefusedEvent) bool { return e.Peer == a })
	if err := bob.c.SendAsRequest(a); err != nil {
		t.Fatal(err)
	}
	f := next(t, bob, func(e *FailedEvent) bool { return true })
	if !errors.Is(f.Err, ErrNoSuchAccount) {
		t.Fatalf("sending to the deleted account: %v", f.Err)
	}
}

// TestAcceptance23Redaction: no client type prints content or keys with any
// fmt verb, and errors carry none.
func TestAcceptance23Redaction(t *testing.T) {
	s := startSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	canary := canaryText()
	m := alice.send(bob.c.ID(), canary)
	in := next(t, bob, func(e *MessageEvent) bool { return true })
	secrets := [][]byte{[]byte(canary), alice.c.core.Local.KeyPair.Private.Bytes(), alice.c.core.AuthSeed(), []byte(hex.EncodeToString(alice.c.core.AuthSeed())),
		[]byte(hex.EncodeToString(alice.c.core.Local.KeyPair.Private.Bytes()))}
	for _, v := range []any{m, &m, in, *in, alice.c, &IdentityChangedError{Peer: bob.c.ID()}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
			out := fmt.Sprintf(verb, v)
			for _, sec := range secrets {
				if bytes.Contains([]byte(out), sec) || bytes.Contains([]byte(strings.ToLower(out)), []byte(hex.EncodeToString(sec))) {
					t.Errorf("%s of %T shows a secret: %.200s", verb, v, out)
				}
			}
		}
	}
}
