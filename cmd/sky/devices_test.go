package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// linking runs "sky devices link" in the background for a script: it waits
// while the script links the new device with the code it printed.
type linking struct {
	cmd  *exec.Cmd
	rest chan string
}

// devicesLinkCmd: devices-link HOME VAR starts "sky --home HOME devices
// link", reads the first line of its output and sets VAR to its last word
// (the code); devices-link-wait then waits for it and prints the rest.
func devicesLinkCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: devices-link HOME VAR")
	}
	cmd := exec.Command("sky", "--home", args[0], "devices", "link")
	cmd.Dir = ts.Getenv("WORK")
	cmd.Env = append(os.Environ(), "SKY_PASSPHRASE="+ts.Getenv("SKY_PASSPHRASE"), "HOME="+ts.Getenv("HOME"), "SKY_HOME=")
	cmd.Stderr = io.Discard
	out, err := cmd.StdoutPipe()
	ts.Check(err)
	ts.Check(cmd.Start())
	r := bufio.NewReader(out)
	first := make(chan string, 1)
	go func() { l, _ := r.ReadString('\n'); first <- l }()
	var line string
	select {
	case line = <-first:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		ts.Fatalf("sky devices link printed no code")
	}
	words := strings.Fields(line)
	if len(words) == 0 {
		ts.Fatalf("sky devices link printed an empty first line")
	}
	ts.Setenv(args[1], words[len(words)-1])
	l := &linking{cmd: cmd, rest: make(chan string, 1)}
	go func() { b, _ := io.ReadAll(r); l.rest <- string(b) }()
	ts.Defer(func() { cmd.Process.Kill() })
	ts.Value("linking").(*linkingSlot).l = l
}

// linkingSlot holds the script's background link.
type linkingSlot struct{ l *linking }

func devicesLinkWaitCmd(ts *testscript.TestScript, neg bool, args []string) {
	l := ts.Value("linking").(*linkingSlot).l
	if l == nil {
		ts.Fatalf("no devices-link running")
	}
	rest := <-l.rest
	err := l.cmd.Wait()
	ts.Stdout().Write([]byte(rest))
	if (err != nil) != neg {
		ts.Fatalf("sky devices link: %v\n%s", err, rest)
	}
}
