package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/client"
)

// newTestAccount makes an account in a fresh home against a real skyd and
// returns the home; the client is closed again.
func newTestAccount(t *testing.T, pass string) string {
	t.Helper()
	s := &skydForScript{path: filepath.Join(t.TempDir(), "skyd.db")}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.srv != nil {
			s.stop()
		}
	})
	code, err := s.code()
	if err != nil {
		t.Fatal(err)
	}
	root, err := client.ParseTrustRoot(s.root)
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	c, err := client.Register(context.Background(), storeDir(home), []byte(pass), "ws://"+s.addr, root, code,
		client.Options{KDF: cheapKDF, MaxFailedUnlocks: 3})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	return home
}

// rpcLine sends one JSON-RPC line on socket and returns the answer line.
func rpcLine(t *testing.T, socket, line string) string {
	t.Helper()
	nc, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprintln(nc, line)
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := bufio.NewReader(nc).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestHost: a host starts locked and its socket says so; a wrong
// passphrase is refused with the tries left; unlocked, the socket serves the
// account; lock closes the client and the unlocked stretch's connections,
// and the socket says locked again; the panic passphrase typed at the
// host's unlock erases the account and then says there is none, as the
// terminal prompt does.
func TestHost(t *testing.T) {
	testKDF = cheapKDF
	defer func() { testKDF = cheapKDF }()
	const pass = "correct horse battery staple"
	home := newTestAccount(t, pass)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := &env{ctx: ctx, home: home, stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard,
		getenv: func(string) string { return "" }}
	socket := defaultSocket(home)
	h, err := e.newHost(socket)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- h.serve() }()

	if got := rpcLine(t, socket, `{"jsonrpc":"2.0","id":1,"method":"id"}`); !strings.Contains(got, "locked") {
		t.Fatalf("a locked host answered %s", got)
	}
	if h.client() != nil {
		t.Fatal("a new host is unlocked")
	}
	_, err = h.unlock([]byte("wrong"))
	if err == nil || !strings.Contains(err.Error(), "2 more wrong tries") {
		t.Fatalf("a wrong passphrase gave %v, want the tries left", err)
	}
	c, err := h.unlock([]byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.unlock([]byte(pass)); err == nil {
		t.Fatal("an unlocked host unlocked again")
	}
	if got := rpcLine(t, socket, `{"jsonrpc":"2.0","id":1,"method":"id"}`); !strings.Contains(got, c.ID()) {
		t.Fatalf("an unlocked host answered %s, want the ID %s", got, c.ID())
	}
	// The user watches a host (daemon, web, tui): a server back after an
	// outage is found within seconds, not the SDK's minute.
	if d := c.MaxBackoff(); d != waitingBackoff {
		t.Fatalf("an unlocked host reconnects at most every %v, want %v", d, waitingBackoff)
	}
	// A connection of the unlocked stretch ends when the host locks.
	nc, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprintln(nc, `{"jsonrpc":"2.0","id":1,"method":"receive.subscribe"}`)
	r := bufio.NewReader(nc)
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if err := c.SetPanic([]byte("panic now"), false); err != nil {
		t.Fatal(err)
	}
	h.lock()
	if h.client() != nil {
		t.Fatal("a locked host still has a client")
	}
	if _, err := c.Contacts(); err == nil {
		t.Fatal("the client still reads its store after lock")
	}
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("a subscription of the unlocked stretch survived lock")
	}
	if got := rpcLine(t, socket, `{"jsonrpc":"2.0","id":2,"method":"id"}`); !strings.Contains(got, "locked") {
		t.Fatalf("a locked host answered %s", got)
	}
	// The panic passphrase wipes; the host then says there is no account.
	_, err = h.unlock([]byte("panic now"))
	if !errors.Is(err, client.ErrNoAccount) || err.Error() != e.noAccount().Error() {
		t.Fatalf("the panic passphrase gave %v, want %v", err, e.noAccount())
	}
	if _, err := os.Stat(filepath.Join(storeDir(home), "sky.key")); !os.IsNotExist(err) {
		t.Fatalf("after the panic passphrase the key file is still there (%v)", err)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	h.close()
	if _, err := os.Stat(socket); !os.IsNotExist(err) {
		t.Fatalf("after close the socket is still there (%v)", err)
	}
}
