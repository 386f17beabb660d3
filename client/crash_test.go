package client

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Acceptance test 20: the client process is killed (SIGKILL) while it
// receives and while it sends; after restarts nothing is lost or doubled,
// the order holds and the session is not wedged.

func TestMain(m *testing.M) {
	if os.Getenv("SKY_CRASH_CHILD") != "" {
		crashChild()
		return
	}
	if os.Getenv("SKY_BENCH_SKYD") != "" {
		benchSkydChild() // group_cpu_bench_test.go
		return
	}
	os.Exit(m.Run())
}

// crashChild is the client process the test kills: it receives (printing
// each message) or sends numbered messages, resuming where the store says
// it stopped.
func crashChild() {
	dir, mode, peer := os.Getenv("SKY_CHILD_DIR"), os.Getenv("SKY_CRASH_CHILD"), os.Getenv("SKY_CHILD_PEER")
	n, _ := strconv.Atoi(os.Getenv("SKY_CHILD_N"))
	ctx := context.Background()
	c, err := Open(ctx, dir, pass, Options{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, ReceiptDelay: 20 * time.Millisecond})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(3)
	}
	sub := c.Subscribe()
	go c.Run(ctx)
	switch mode {
	case "receive":
		fmt.Println("ready")
		for ev := range sub.Events() {
			if m, ok := ev.(*MessageEvent); ok {
				fmt.Println("got", m.Message.Text)
			}
		}
	case "send":
		h, _ := c.History(peer, 0)
		start := 0
		for _, m := range h {
			if m.Outgoing && strings.HasPrefix(m.Text, "s") {
				start++
			}
		}
		fmt.Println("ready")
		for i := start; i < n; i++ {
			if _, err := c.Send(peer, fmt.Sprint("s", i)); err != nil {
				fmt.Println("send:", err)
				os.Exit(3)
			}
		}
		if err := c.Flush(ctx); err != nil {
			fmt.Println("flush:", err)
			os.Exit(3)
		}
		fmt.Println("done")
		c.Close()
		os.Exit(0)
	}
}

type child struct {
	cmd  *exec.Cmd
	out  chan string
	done chan struct{}
}

func startChild(t *testing.T, mode, dir, peer string, n int) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SKY_CRASH_CHILD="+mode, "SKY_CHILD_DIR="+dir, "SKY_CHILD_PEER="+peer, fmt.Sprint("SKY_CHILD_N=", n))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := &child{cmd: cmd, out: make(chan string, 1024), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			ch.out <- sc.Text()
		}
		close(ch.out)
		cmd.Wait()
		close(ch.done)
	}()
	if line := <-ch.out; line != "ready" {
		t.Fatalf("child: %q", line)
	}
	return ch
}

func (c *child) kill() {
	c.cmd.Process.Kill()
	<-c.done
}

func TestAcceptance20ClientCrashes(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns client processes")
	}
	s := startSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	a, b := alice.c.ID(), bob.c.ID()
	alice.send(b, "hello")
	texts(t, bob, 1)
	bob.c.Accept(a)
	// Bob answers, so each holds the other's delivery token and the
	// messages below go sealed with it, not as (rate-limited) requests.
	bob.send(a, "hi")
	texts(t, alice, 1)
	bob.flush()
	bob.close() // the child processes use Bob's store from now on

	t.Run("killed while receiving", func(t *testing.T) {
		n := 300
		if raceEnabled {
			n = 60
		}
		go func() {
			for i := range n {
				alice.c.Send(b, fmt.Sprint("r", i))
				if i%25 == 0 {
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
		for range 5 {
			ch := startChild(t, "receive", bob.dir, a, 0)
			time.Sleep(time.Duration(30+rand.IntN(120)) * time.Millisecond)
			ch.kill()
			t.Logf("killed the receiver with %d of %d messages stored", len(receivedTexts(t, bob.dir, a, "r")), n)
		}
		alice.flush()
		// Restart until the store holds everything: each run lasts until
		// nothing new has come for a second.
		deadline := time.Now().Add(60 * time.Second)
		for len(receivedTexts(t, bob.dir, a, "r")) < n && time.Now().Before(deadline) {
			ch := startChild(t, "receive", bob.dir, a, 0)
			quiet := time.NewTimer(3 * time.Second)
		wait:
			for {
				select {
				case <-ch.out:
					quiet.Reset(time.Second)
				case <-quiet.C:
					break wait
				}
			}
			ch.kill()
		}
		got := receivedTexts(t, bob.dir, a, "r")
		if !eq(got, prefixed("r", n)) {
			t.Fatalf("after %d kills Bob holds %d messages, want each of %d once in order (first difference at %d)", 5, len(got), n, firstDiff(got, prefixed("r", n)))
		}
	})

	t.Run("killed while sending", func(t *testing.T) {
		n := 200
		if raceEnabled {
			n = 40
		}
		for range 4 {
			ch := startChild(t, "send", bob.dir, a, n)
			time.Sleep(time.Duration(20+rand.IntN(80)) * time.Millisecond)
			ch.kill()
			t.Logf("killed the sender with %d of %d messages written", len(sentTexts(t, bob.dir, a)), n)
		}
		ch := startChild(t, "send", bob.dir, a, n)
		for line := range ch.out {
			if line != "done" {
				t.Fatalf("sender: %s", line)
			}
		}
		var got []string
		for len(got) < n {
			got = append(got, texts(t, alice, 1)...)
		}
		if !eq(got, prefixed("s", n)) {
			t.Fatalf("Alice got %d messages, want each of %d once in order (first difference at %d)", len(got), n, firstDiff(got, prefixed("s", n)))
		}
	})

	// The session is not wedged: both directions still work.
	bob.reopen()
	alice.send(b, "still there?")
	if got := texts(t, bob, 1); got[0] != "still there?" {
		t.Fatalf("bob got %q", got)
	}
	bob.send(a, "yes")
	if got := texts(t, alice, 1); got[0] != "yes" {
		t.Fatalf("alice got %q", got)
	}
}

// receivedTexts opens a store and returns the incoming texts with prefix,
// in the order the conversation shows them.
func receivedTexts(t *testing.T, dir, peer, prefix string) []string {
	t.Helper()
	c, err := Open(ctxT(t), dir, pass, testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h, err := c.History(peer, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range h {
		if !m.Outgoing && strings.HasPrefix(m.Text, prefix) {
			out = append(out, m.Text)
		}
	}
	return out
}

func sentTexts(t *testing.T, dir, peer string) []string {
	c, err := Open(ctxT(t), dir, pass, testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h, _ := c.History(peer, 0)
	var out []string
	for _, m := range h {
		if m.Outgoing && strings.HasPrefix(m.Text, "s") {
			out = append(out, m.Text)
		}
	}
	return out
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
