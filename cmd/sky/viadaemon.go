package main

// Commands through a running daemon. "sky daemon" holds the store (a second
// process cannot open it), so while one serves on HOME/sky.sock the
// everyday commands — id, send, history, contacts, requests, group,
// broadcast, verify, timer — are carried out by it: the command line is
// sent with the daemon's "cli" method, the daemon runs it on its unlocked
// client exactly as sky would, and sky prints what it printed and exits
// with its status. receive becomes a subscription, printed as receive
// prints. No passphrase is asked for: the socket (mode 0600) admits only the
// user, who unlocked the store when starting the daemon, and whose daemon
// already sends and reads for whatever reaches it. Commands that need the
// passphrase or could wipe or delete (init, panic, account, daemon) are
// never carried out by the daemon; they say the store is in use.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/skymsg/sky/client"
)

// daemonCommands are the commands a daemon carries out for sky.
var daemonCommands = []string{"id", "send", "history", "dismiss", "send-as-request", "contacts", "requests", "group", "broadcast", "verify", "timer", "save", "auto-download", "notes", "profile", "typing", "backup", "reply", "react", "edit", "unsend", "devices"}

// maxStdin bounds the text a command sent to the daemon reads from stdin
// (as e.text does).
const maxStdin = 1 << 20

// errInUse is what a command the daemon does not carry out says while one
// holds the store.
var errInUse = errors.New("the Sky account is in use by another process (is \"sky daemon\" running? it carries out " +
	"receive and " + strings.Join(daemonCommands, ", ") + "; stop it for the other commands)")

// daemonRunning reports whether a daemon answers on the home's socket.
func (e *env) daemonRunning() bool {
	nc, err := net.DialTimeout("unix", defaultSocket(e.home), time.Second)
	if err != nil {
		return false
	}
	nc.Close()
	return true
}

// cliParams are the daemon's "cli" method's parameters.
type cliParams struct {
	Args  []string `json:"args"`
	Stdin string   `json:"stdin"`
}

// cliResult is what the daemon's "cli" method answers: what the command
// printed and its exit status.
type cliResult struct {
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	Status int    `json:"status"`
}

// exitStatus ends sky with a status whose message was printed already.
type exitStatus int

func (s exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(s)) }

// defaultSocket is where sky daemon listens unless told otherwise, and
// where sky looks for it.
func defaultSocket(home string) string { return filepath.Join(home, "sky.sock") }

// viaDaemon runs the command through the daemon serving on the home's
// socket. It reports false, having done nothing, when the command is not
// one a daemon carries out or no daemon answers there.
func (e *env) viaDaemon(args []string) (bool, error) {
	if args[0] == "receive" {
		return e.receiveViaDaemon(args[1:])
	}
	if !slices.Contains(daemonCommands, args[0]) || (args[0] == "devices" && slices.Contains(args, "link")) {
		return false, nil // devices link prints its code while it waits: never through the daemon
	}
	nc, err := net.DialTimeout("unix", defaultSocket(e.home), time.Second)
	if err != nil {
		return false, nil // no daemon (or a stale socket): sky opens the store itself
	}
	defer nc.Close()
	p := cliParams{Args: absFileArgs(backupArgs(args))}
	if slices.Contains(args[1:], "-") {
		b, err := io.ReadAll(io.LimitReader(e.stdin, maxStdin))
		if err != nil {
			return true, fmt.Errorf("reading the text from stdin failed: %w", err)
		}
		p.Stdin = string(b)
	}
	req, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "cli", "params": p})
	if err != nil {
		return true, err
	}
	go func() { // an interrupted sky stops waiting; the daemon finishes the command
		<-e.ctx.Done()
		nc.Close()
	}()
	if _, err := nc.Write(append(req, '\n')); err != nil {
		return true, fmt.Errorf("the sky daemon on %s did not take the command: %w", defaultSocket(e.home), err)
	}
	var resp struct {
		Result *cliResult `json:"result"`
		Error  *rpcError  `json:"error"`
	}
	line, err := bufio.NewReaderSize(nc, 64<<10).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &resp)
	}
	switch {
	case err != nil:
		return true, fmt.Errorf("the sky daemon on %s did not answer: %v", defaultSocket(e.home), err)
	case resp.Error != nil:
		return true, fmt.Errorf("the sky daemon on %s refused the command: %s", defaultSocket(e.home), resp.Error.Message)
	case resp.Result == nil:
		return true, fmt.Errorf("the sky daemon on %s gave an empty answer", defaultSocket(e.home))
	}
	io.WriteString(e.stdout, resp.Result.Stdout)
	io.WriteString(e.stderr, resp.Result.Stderr)
	if resp.Result.Status != 0 {
		return true, exitStatus(resp.Result.Status)
	}
	return true, nil
}

// runCLI is the daemon's "cli" method: it runs a command line on the
// daemon's client, as sky would have with the store to itself.
func (d *daemon) runCLI(ctx context.Context, p cliParams) (*cliResult, *rpcError) {
	if len(p.Args) == 0 || !slices.Contains(daemonCommands, p.Args[0]) {
		return nil, &rpcError{rpcInvalidParams, "cli runs only these commands: " + strings.Join(daemonCommands, ", ")}
	}
	if len(p.Stdin) > maxStdin {
		return nil, &rpcError{rpcInvalidParams, "stdin is too long"}
	}
	var stdout, stderr strings.Builder
	sub := &env{ctx: ctx, home: d.home, stdin: strings.NewReader(p.Stdin), stdout: &stdout, stderr: &stderr,
		getenv: func(string) string { return "" }, shared: d.c}
	status := report(runGuarded(sub, p.Args), &stderr)
	return &cliResult{Stdout: stdout.String(), Stderr: stderr.String(), Status: status}, nil
}

// runGuarded runs a command for a client of the daemon; a bug that panics
// fails that command instead of taking the daemon down with it.
func runGuarded(e *env, args []string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the daemon failed running %q (a bug; please report it): %v", args[0], r)
		}
	}()
	return commands[args[0]](e, args[1:])
}

// release closes a client that open returned, unless it is the daemon's.
func (e *env) release(c *client.Client) {
	if c != e.shared {
		c.Close()
	}
}

// receiveViaDaemon is receive through a daemon: a subscription, printed as
// receive prints what it gets itself (the daemon renders each message and
// event as receive would). It reports false, having done nothing, when no
// daemon answers.
func (e *env) receiveViaDaemon(args []string) (bool, error) {
	f, err := parseReceive(args)
	if err != nil {
		return true, err
	}
	nc, err := net.DialTimeout("unix", defaultSocket(e.home), time.Second)
	if err != nil {
		return false, nil
	}
	defer nc.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-e.ctx.Done():
			nc.Close()
		case <-done:
		}
	}()
	if _, err := io.WriteString(nc, `{"jsonrpc":"2.0","id":1,"method":"receive.subscribe"}`+"\n"); err != nil {
		return true, fmt.Errorf("the sky daemon on %s did not take the subscription: %w", defaultSocket(e.home), err)
	}
	r := bufio.NewReaderSize(nc, 64<<10)
	idle := time.Now().Add(f.timeout)
	for {
		if !f.follow {
			nc.SetReadDeadline(idle)
		}
		line, err := r.ReadBytes('\n')
		var ne net.Error
		switch {
		case e.ctx.Err() != nil, errors.As(err, &ne) && ne.Timeout():
			return true, nil // interrupted, or quiet for the timeout: done
		case err != nil:
			return true, fmt.Errorf("the sky daemon on %s went away: %v", defaultSocket(e.home), err)
		}
		var msg struct {
			Method string `json:"method"`
			Params struct {
				Message json.RawMessage `json:"message"`
				Event   json.RawMessage `json:"event"`
				Line    string          `json:"line"`
			} `json:"params"`
			Error *rpcError `json:"error"`
		}
		if err := json.Unmarshal(line, &msg); err != nil {
			return true, fmt.Errorf("the sky daemon on %s sent something that is not JSON", defaultSocket(e.home))
		}
		switch {
		case msg.Error != nil:
			return true, fmt.Errorf("the sky daemon on %s refused the subscription: %s", defaultSocket(e.home), msg.Error.Message)
		case msg.Method == "receive" && f.json:
			fmt.Fprintf(e.stdout, "%s\n", msg.Params.Message)
		case msg.Method == "receive":
			fmt.Fprintln(e.stdout, msg.Params.Line)
		case msg.Method == "event" && f.json:
			fmt.Fprintf(e.stdout, "%s\n", msg.Params.Event)
		case msg.Method == "event":
			fmt.Fprintf(e.stderr, "sky: %s\n", msg.Params.Line)
		}
		if msg.Method == "receive" {
			idle = time.Now().Add(f.timeout)
		}
	}
}
