package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/skymsg/sky/internal/testenv"
)

// pebbleModule is Pebble, Let's Encrypt's ACME test CA, built from its
// module for TestServeACME.
const pebbleModule, pebbleVersion = "github.com/letsencrypt/pebble/v2/cmd/pebble", "v2.10.1"

// TestServeACME: with --acme-domain, skyd obtains its certificate from a
// real ACME CA — Pebble, told to skip challenge validation, since no CA can
// reach this machine — and serves WebSocket over TLS with it; a name it
// was not given gets no certificate; after a restart, with the CA gone, it
// serves the certificate from its cache. Needs Pebble built through the Go
// module proxy (SKY_REQUIRE_ACME=1 makes a failure to build it fatal).
func TestServeACME(t *testing.T) {
	pebble := buildPebble(t)
	dir := t.TempDir()
	certFile, keyFile, caPool := selfSigned(t, dir)
	acmeAddr, mgmtAddr := freeAddr(t), freeAddr(t)
	cfg, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress": acmeAddr, "managementListenAddress": mgmtAddr,
		"certificate": certFile, "privateKey": keyFile, "httpPort": 5002, "tlsPort": 5001,
		"externalAccountBindingRequired": false,
	}})
	cfgFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgFile, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	ca := exec.Command(pebble, "-config", cfgFile)
	ca.Env = append(os.Environ(), "PEBBLE_VA_ALWAYS_VALID=1", "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	ca.Stdout, ca.Stderr = io.Discard, io.Discard
	if err := ca.Start(); err != nil {
		t.Fatal(err)
	}
	caDone := make(chan struct{})
	go func() { ca.Wait(); close(caDone) }()
	stopCA := func() { ca.Process.Kill(); <-caDone }
	t.Cleanup(stopCA)
	https := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool}}}
	waitFor(t, https, "https://"+acmeAddr+"/dir")

	data := filepath.Join(dir, "skyd")
	args := []string{"--data", data, "--listen", "127.0.0.1:0", "--metrics-listen", "",
		"--acme-domain", "sky.test", "--acme-directory", "https://" + acmeAddr + "/dir", "--acme-ca", certFile}
	p := startSkyd(t, args...)
	addr := p.until(t, wssRE)[1]

	// The chain ends at the root Pebble made for this run.
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(getBody(t, https, "https://"+mgmtAddr+"/roots/0")) {
		t.Fatal("Pebble gave no root certificate")
	}
	leaf := handshake(t, addr, "sky.test", roots)
	if !slices.Equal(leaf.DNSNames, []string{"sky.test"}) {
		t.Fatalf("certificate for %v, want [sky.test]", leaf.DNSNames)
	}
	wsConnect(t, addr, "sky.test", roots)
	if _, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "other.test", RootCAs: roots}); err == nil {
		t.Fatal("skyd served a certificate for a name it was not given")
	}

	// Restarted with the CA gone, it serves the cached certificate.
	stopCA()
	p.cmd.Process.Signal(os.Interrupt)
	p.waited <- <-p.waited // (put back for startSkyd's cleanup)
	p = startSkyd(t, args...)
	addr = p.until(t, wssRE)[1]
	if again := handshake(t, addr, "sky.test", roots); !again.Equal(leaf) {
		t.Fatal("after a restart skyd served another certificate than the cached one")
	}
	wsConnect(t, addr, "sky.test", roots)
}

var wssRE = regexp.MustCompile(`^skyd: serving wss://(\S+)/v1/websocket`)

// buildPebble builds Pebble into a temporary directory.
func buildPebble(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	cmd := exec.Command("go", "install", pebbleModule+"@"+pebbleVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		testenv.Unavailable(t, "ACME", fmt.Sprintf("cannot build Pebble (%s@%s) through the Go module proxy: %v\n%s", pebbleModule, pebbleVersion, err, out))
	}
	return filepath.Join(bin, "pebble")
}

// selfSigned makes a certificate for 127.0.0.1, for Pebble's own HTTPS,
// and returns its files and a pool trusting it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pebble test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "ca-cert.pem"), filepath.Join(dir, "ca-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string { return testenv.FreeAddr(t) }

// waitFor waits until url answers.
func waitFor(t *testing.T, c *http.Client, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within 20 s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func getBody(t *testing.T, c *http.Client, url string) []byte {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d, %v", url, resp.StatusCode, err)
	}
	return b
}

// handshake makes a TLS handshake with skyd at addr for name, verifying
// the chain against roots, and returns the certificate it served.
func handshake(t *testing.T, addr, name string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 30 * time.Second}, "tcp", addr, &tls.Config{ServerName: name, RootCAs: roots})
	if err != nil {
		t.Fatalf("TLS handshake with skyd for %s: %v", name, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// wsConnect opens a WebSocket to skyd at addr over TLS for name.
func wsConnect(t *testing.T, addr, name string, roots *x509.CertPool) {
	t.Helper()
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{ServerName: name, RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "wss://"+name+"/v1/websocket", &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatalf("WebSocket over TLS to skyd: %v", err)
	}
	c.Close(websocket.StatusNormalClosure, "")
}
