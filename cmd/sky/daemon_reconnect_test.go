package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Timers of TestDaemonReconnects: the daemon's first wait between
// reconnection attempts and its cap (waitingBackoff, shortened as
// SKY_TEST_BACKOFF allows only in this test binary); how long skyd stays
// down: long enough that the doubling waits pass the cap (20+40+80+160 ms
// reach 250 ms) and would, without it, have grown to a second or more
// (20 ms doubled for 2.5 s); and the time a connection may take on top of
// the cap.
const (
	reconnectMin   = 20 * time.Millisecond
	reconnectCap   = 250 * time.Millisecond
	reconnectDown  = 2500 * time.Millisecond
	reconnectSlack = 750 * time.Millisecond
)

// TestDaemonReconnects: skyd stops under a real running sky daemon and
// starts again on the same address and data; the daemon tells its
// subscriber the connection was lost, is connected again within its
// back-off cap (plus the time a connection takes), and delivers a message
// sent while it was away (issue 11, item 5). The cap of the built program
// is waitingBackoff (5 s, TestHost); here it is shortened so the test takes
// seconds.
func TestDaemonReconnects(t *testing.T) {
	s := &skydForScript{path: filepath.Join(t.TempDir(), "skyd.db")}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if s.srv != nil {
			s.stop()
		}
	}()
	dir := t.TempDir()
	bin := filepath.Join(dir, "sky")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, bin); err != nil {
		t.Fatal(err)
	}
	alice, bob := filepath.Join(dir, "alice"), filepath.Join(dir, "bob")
	a := initAccount(t, s, bin, alice)
	initAccount(t, s, bin, bob)

	var stderr bytes.Buffer
	startDaemon(t, bin, alice, &stderr)
	events := subscribe(t, filepath.Join(alice, "sky.sock"), &stderr)
	// Bob runs a daemon too, so that what he writes during the outage is
	// queued at once and goes out when his daemon is back.
	var bobStderr bytes.Buffer
	startDaemon(t, bin, bob, &bobStderr)
	subscribe(t, filepath.Join(bob, "sky.sock"), &bobStderr)

	sky := func(args ...string) string {
		t.Helper()
		out, err := skyCommand(t, bin, append([]string{"--home", bob}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("bob's sky %q: %v: %s", args, err, out)
		}
		return string(out)
	}
	sky("send", a, "before the outage")
	waitNotification(t, events, 10*time.Second, `"text":"before the outage"`)

	s.stop()
	waitNotification(t, events, 5*time.Second, `"connected":false`)
	// Bob writes meanwhile: his daemon queues it and says so at once (one
	// refused attempt is enough, not connectTimeout); it goes out when his
	// daemon is back.
	sent := time.Now()
	if out := sky("send", a, "written during the outage"); !strings.Contains(out, " pending") || !strings.Contains(out, "queued") {
		t.Fatalf("bob's send during the outage: %s", out)
	}
	if d := time.Since(sent); d > connectTimeout/3 {
		t.Fatalf("bob's send during the outage took %v to say it is queued (a refused attempt is enough)", d)
	}
	time.Sleep(reconnectDown)
	if err := s.start(); err != nil {
		t.Fatalf("restarting skyd on %s: %v", s.addr, err)
	}
	back := time.Now()
	at := waitNotification(t, events, reconnectCap+2*time.Second, `"connected":true`)
	t.Logf("connected again %v after skyd was back (cap %v)", at.Sub(back).Round(time.Millisecond), reconnectCap)
	if d := at.Sub(back); d > reconnectCap+reconnectSlack {
		t.Fatalf("connected again %v after skyd was back; the cap is %v", d, reconnectCap)
	}
	waitNotification(t, events, 5*time.Second, `"text":"written during the outage"`)
}

// startDaemon runs sky daemon in home with the shortened back-off, until the
// test ends.
func startDaemon(t *testing.T, bin, home string, stderr *bytes.Buffer) {
	t.Helper()
	daemon := skyCommand(t, bin, "--home", home, "daemon")
	daemon.Env = append(daemon.Env, fmt.Sprintf("SKY_TEST_BACKOFF=%v,%v", reconnectMin, reconnectCap))
	daemon.Stderr = stderr
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		daemon.Process.Kill()
		daemon.Wait()
	})
}

// initAccount makes an account in home with sky init against s and returns
// its ID.
func initAccount(t *testing.T, s *skydForScript, bin, home string) string {
	t.Helper()
	code, err := s.code()
	if err != nil {
		t.Fatal(err)
	}
	out, err := skyCommand(t, bin, "--home", home, "init", "--server", "ws://"+s.addr, "--trust-root", s.root, "--code", code).Output()
	if err != nil {
		t.Fatalf("init: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// subscribe waits for the daemon's socket, subscribes, and returns its
// notifications.
func subscribe(t *testing.T, sock string, stderr *bytes.Buffer) <-chan notification {
	t.Helper()
	var nc net.Conn
	for range 400 {
		var err error
		if nc, err = net.Dial("unix", sock); err == nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if nc == nil {
		t.Fatalf("the daemon never listened; stderr: %s", stderr.String())
	}
	t.Cleanup(func() { nc.Close() })
	fmt.Fprintln(nc, `{"jsonrpc":"2.0","id":1,"method":"receive.subscribe"}`)
	r := bufio.NewReader(nc)
	if line, err := r.ReadString('\n'); err != nil || !strings.Contains(line, `"subscription"`) {
		t.Fatalf("subscribe: %q, %v", line, err)
	}
	lines := make(chan notification, 100)
	go func() {
		defer close(lines)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			lines <- notification{line, time.Now()}
		}
	}()
	return lines
}

// notification is one line the daemon sent a subscriber, and when it came.
type notification struct {
	line string
	at   time.Time
}

// waitNotification waits up to d for a notification containing want and
// returns when it came.
func waitNotification(t *testing.T, lines <-chan notification, d time.Duration, want string) time.Time {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case n, ok := <-lines:
			if !ok {
				t.Fatalf("the subscription ended before %s", want)
			}
			if !json.Valid([]byte(n.line)) {
				t.Fatalf("a notification that is not JSON: %q", n.line)
			}
			if strings.Contains(n.line, want) {
				return n.at
			}
		case <-deadline:
			t.Fatalf("no notification with %s within %v", want, d)
		}
	}
}
