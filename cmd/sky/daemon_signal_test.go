package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// skyCommand returns a command running this test binary as sky (TestMain),
// with the scripts' environment.
func skyCommand(t *testing.T, bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "SKY_PASSPHRASE=correct horse battery staple")
	return cmd
}

// TestDaemonStopsOnSignal: sky daemon, a real process with JSON-RPC clients
// connected (one subscribed, one in the middle of a line, one running a
// receive --follow through the daemon), exits promptly on SIGINT and on
// SIGTERM, removes its socket and releases the store (issue 11, item 3).
func TestDaemonStopsOnSignal(t *testing.T) {
	s := &skydForScript{path: filepath.Join(t.TempDir(), "skyd.db")}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	dir := t.TempDir()
	bin := filepath.Join(dir, "sky")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, bin); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	code, err := s.code()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := skyCommand(t, bin, "--home", home, "init", "--server", "ws://"+s.addr, "--trust-root", s.root, "--code", code).CombinedOutput(); err != nil {
		t.Fatalf("init: %v: %s", err, out)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			daemon := skyCommand(t, bin, "--home", home, "daemon")
			var stderr bytes.Buffer
			daemon.Stderr = &stderr
			if err := daemon.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- daemon.Wait() }()
			defer daemon.Process.Kill()
			sock := filepath.Join(home, "sky.sock")
			dial := func() net.Conn {
				for range 200 {
					if nc, err := net.Dial("unix", sock); err == nil {
						return nc
					}
					time.Sleep(25 * time.Millisecond)
				}
				t.Fatalf("the daemon never listened; stderr: %s", stderr.String())
				return nil
			}
			sub := dial()
			defer sub.Close()
			fmt.Fprintln(sub, `{"jsonrpc":"2.0","id":1,"method":"receive.subscribe"}`)
			if line, err := bufio.NewReader(sub).ReadString('\n'); err != nil || !strings.Contains(line, `"subscription"`) {
				t.Fatalf("subscribe: %q, %v", line, err)
			}
			partial := dial()
			defer partial.Close()
			fmt.Fprint(partial, `{"jsonrpc":"2.0","id":1,"met`)
			follow := skyCommand(t, bin, "--home", home, "receive", "--follow")
			if err := follow.Start(); err != nil {
				t.Fatal(err)
			}
			defer follow.Process.Kill()
			go follow.Wait()
			time.Sleep(500 * time.Millisecond)

			start := time.Now()
			daemon.Process.Signal(sig)
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("the daemon exited with %v; stderr: %s", err, stderr.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("the daemon still runs 10 s after %v with clients connected", sig)
			}
			t.Logf("exited %v after %v", sig, time.Since(start).Round(time.Millisecond))
			if _, err := os.Stat(sock); !os.IsNotExist(err) {
				t.Fatalf("the socket is still there: %v", err)
			}
			// The store is free again.
			if out, err := skyCommand(t, bin, "--home", home, "id").CombinedOutput(); err != nil {
				t.Fatalf("sky id after the daemon: %v: %s", err, out)
			}
		})
	}
}
