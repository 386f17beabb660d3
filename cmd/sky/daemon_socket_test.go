package main

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestListenUnix: the daemon's socket is 0600 from the moment it can be
// reached, a second daemon is refused, a stale socket file is replaced, and
// Close removes the socket.
func TestListenUnix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "home", "sky.sock")
	ln, err := listenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket %s has mode %v, want a socket with 0600", path, fi.Mode())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("the socket's directory holds %d entries, want only the socket: %v", len(entries), entries)
	}
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dialing the moved socket: %v", err)
	}
	c.Close()
	if _, err := listenUnix(path); err == nil {
		t.Fatal("a second daemon could listen on the same socket")
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("after Close the socket file is still there (%v)", err)
	}
	// A stale socket file (its daemon died) is replaced.
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	ln, err = listenUnix(path)
	if err != nil {
		t.Fatalf("a stale socket was not replaced: %v", err)
	}
	ln.Close()
}
