package main

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/server/servertest"
)

var rootRE = regexp.MustCompile(`^([A-Za-z0-9+/]{44})$`) // 33 bytes

func parseRoot(t *testing.T, s string) curve.PublicKey {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("trust root %q: %v", s, err)
	}
	k, err := curve.ParsePublicKey(b)
	if err != nil {
		t.Fatalf("trust root %q: %v", s, err)
	}
	return k
}

// welcomeCert dials url and checks that the server certificate in its
// Welcome is signed by root.
func welcomeCert(t *testing.T, url string, root curve.PublicKey) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := servertest.Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cert, err := sealed.ParseServerCertificate(c.Welcome.GetServerCertificate())
	if err != nil {
		t.Fatalf("Welcome's server certificate: %v", err)
	}
	if err := cert.Validate(root); err != nil {
		t.Fatalf("the server certificate is not signed by the trust root: %v", err)
	}
}

// TestTrustRootOffline: the operator makes the root offline, certifies the
// server with it, and the server's Welcome carries a certificate under it.
func TestTrustRootOffline(t *testing.T) {
	offline, data := t.TempDir(), t.TempDir()
	keyFile := filepath.Join(offline, "root.key")
	out, stderr, rc := skydAdmin(t, "trust-root", "init", "--out", keyFile)
	if rc != 0 || !rootRE.MatchString(strings.TrimSpace(out)) || !strings.Contains(stderr, "offline") {
		t.Fatalf("init (exit %d): %q %q", rc, out, stderr)
	}
	root := parseRoot(t, out)
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if b, _ := os.ReadFile(keyFile); strings.Contains(string(b), strings.TrimSpace(out)) {
		t.Fatal("the key file holds the public key instead of the private one")
	}
	if _, stderr, rc := skydAdmin(t, "trust-root", "init", "--out", keyFile); rc == 0 || !strings.Contains(stderr, "never overwrites") {
		t.Fatalf("init over an existing file: exit %d, %q", rc, stderr)
	}
	if _, stderr, rc := skydAdmin(t, "--data", data, "trust-root", "show"); rc != 1 || !strings.Contains(stderr, "no skyd data in") {
		t.Fatalf("show before certify: exit %d, %q", rc, stderr)
	}
	if out, _, rc := skydAdmin(t, "--data", data, "trust-root", "certify", "--key", keyFile); rc != 0 || parseRoot(t, out) != root {
		t.Fatalf("certify (exit %d): %q", rc, out)
	}
	if out, _, rc := skydAdmin(t, "--data", data, "trust-root", "show"); rc != 0 || parseRoot(t, out) != root {
		t.Fatalf("show (exit %d): %q", rc, out)
	}
	bad := filepath.Join(offline, "bad.key")
	os.WriteFile(bad, []byte("# nothing\nnot base64!\n"), 0o600)
	if _, stderr, rc := skydAdmin(t, "--data", data, "trust-root", "certify", "--key", bad); rc != 1 || !strings.Contains(stderr, "does not hold a trust root") {
		t.Fatalf("certify with a bad file: exit %d, %q", rc, stderr)
	}

	// The server started on it uses that certificate, prints no root of
	// its own, and leaves no key file in its data directory.
	p := startSkyd(t, "--data", data, "--listen", "127.0.0.1:0", "--metrics-listen", "")
	url := p.until(t, servingRE)[1]
	welcomeCert(t, url, root)
	if _, err := os.Stat(filepath.Join(data, "trust-root.key")); !os.IsNotExist(err) {
		t.Fatalf("a certified server wrote a trust root: %v", err)
	}
}

// TestTrustRootFirstStart: a zero-configuration first start makes a root,
// keeps its private half in the data directory for the operator to move
// offline, and prints the public half clients pin.
func TestTrustRootFirstStart(t *testing.T) {
	data := t.TempDir()
	p := startSkyd(t, "--data", data, "--listen", "127.0.0.1:0", "--metrics-listen", "")
	root := parseRoot(t, p.until(t, rootRE)[1])
	url := p.until(t, servingRE)[1]
	welcomeCert(t, url, root)
	if fi, err := os.Stat(filepath.Join(data, "trust-root.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("trust-root.key: %v %v", fi, err)
	}
	if out, _, rc := skydAdmin(t, "--data", data, "trust-root", "show"); rc != 0 || parseRoot(t, out) != root {
		t.Fatalf("show (exit %d): %q", rc, out)
	}
}
