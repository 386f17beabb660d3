package main

import (
	"crypto/rand"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/skymsg/sky/internal/testenv"
)

// tmuxCmd drives programs in a real terminal emulator, tmux, for the
// scripts (sky tui): each script gets its own tmux server.
//
//	tmux require             fail where SKY_REQUIRE_TMUX=1 (CI) and tmux is missing
//	tmux start NAME ARGS...  run ARGS (e.g. sky --home bob tui) in a 100×30 terminal
//	tmux type NAME TEXT      type TEXT literally
//	tmux key NAME KEY...     press keys (tmux names: Enter, Down, C-c, …)
//	tmux size NAME W H       resize the terminal to W×H
//	tmux wait NAME REGEXP    wait up to 20 s until the screen matches; the screen is then the stdout,
//	                         and each named group (?P<VAR>…) of REGEXP sets $VAR
//	tmux title NAME          the terminal's title as the programs in it set it, as stdout
//	tmux gone NAME           wait up to 10 s until the program in NAME ended
//
// A script starts with "tmux require" and then "[!exec:tmux] skip", so it
// is skipped where tmux is missing, except where SKY_REQUIRE_TMUX=1 (CI).
func tmuxCmd(ts *testscript.TestScript, neg bool, args []string) {
	_, missing := exec.LookPath("tmux")
	if len(args) == 1 && args[0] == "require" {
		if missing != nil && testenv.Required("tmux") {
			ts.Fatalf("tmux is required here (SKY_REQUIRE_TMUX=1) but not in PATH: apt-get install tmux")
		}
		return
	}
	if len(args) < 2 {
		ts.Fatalf("usage: tmux require, or tmux start|type|key|size|wait|title|gone NAME ...")
	}
	op, name, rest := args[0], args[1], args[2:]
	switch op {
	case "start":
		tmux(ts, append([]string{"new-session", "-d", "-s", name, "-x", "100", "-y", "30", "-c", ts.Getenv("WORK"), "--"}, rest...)...)
	case "type":
		tmux(ts, "send-keys", "-t", name, "-l", strings.Join(rest, " "))
	case "key":
		tmux(ts, append([]string{"send-keys", "-t", name}, rest...)...)
	case "size":
		if len(rest) != 2 {
			ts.Fatalf("usage: tmux size NAME W H")
		}
		tmux(ts, "resize-window", "-t", name, "-x", rest[0], "-y", rest[1])
	case "wait":
		re, err := regexp.Compile("(?m)" + strings.Join(rest, " "))
		ts.Check(err)
		var screen string
		for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			screen = tmux(ts, "capture-pane", "-p", "-t", name)
			if match := re.FindStringSubmatch(screen); match != nil {
				for i, v := range re.SubexpNames() {
					if v != "" {
						ts.Setenv(v, match[i])
					}
				}
				fmt.Fprint(ts.Stdout(), screen)
				return
			}
		}
		ts.Fatalf("the screen of %s never matched %s; it shows:\n%s", name, re, screen)
	case "title":
		fmt.Fprintln(ts.Stdout(), tmux(ts, "display-message", "-p", "-t", name, "#{pane_title}"))
	case "gone":
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if tmuxTry(ts, "has-session", "-t", name) != nil {
				return
			}
		}
		ts.Fatalf("%s is still running:\n%s", name, tmux(ts, "capture-pane", "-p", "-t", name))
	default:
		ts.Fatalf("tmux: unknown operation %q", op)
	}
}

// tmux runs a tmux command on the script's server and returns its output.
func tmux(ts *testscript.TestScript, args ...string) string {
	out, err := tmuxRun(ts, args...)
	if err != nil {
		ts.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return out
}

func tmuxTry(ts *testscript.TestScript, args ...string) error {
	_, err := tmuxRun(ts, args...)
	return err
}

func tmuxRun(ts *testscript.TestScript, args ...string) (string, error) {
	sock := ts.Getenv("TMUX_SOCKET")
	if sock == "" {
		sock = "sky-test-" + rand.Text()[:12]
		ts.Setenv("TMUX_SOCKET", sock)
		ts.Defer(func() { exec.Command("tmux", "-L", sock, "kill-server").Run() })
	}
	cmd := exec.Command("tmux", append([]string{"-L", sock, "-f", "/dev/null"}, args...)...)
	cmd.Dir = ts.Getenv("WORK")
	cmd.Env = []string{"PATH=" + ts.Getenv("PATH"), "HOME=" + ts.Getenv("WORK"), "TMPDIR=" + ts.Getenv("TMPDIR"),
		"TERM=xterm-256color", "LANG=C.UTF-8", "SKY_PASSPHRASE=" + ts.Getenv("SKY_PASSPHRASE")}
	out, err := cmd.CombinedOutput()
	return string(out), err
}
