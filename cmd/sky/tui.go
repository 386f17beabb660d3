package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/term"

	"github.com/skymsg/sky/ui/tui"
)

// cmdTUI is "sky tui [ID|NAME|GROUP]": the chat in the terminal (package
// ui/tui). It unlocks the account as every command does, stays connected
// and serves the daemon's JSON-RPC socket meanwhile, so other sky commands
// keep working through it; given a conversation, it opens it with the
// cursor in the composer.
func cmdTUI(e *env, args []string) error {
	fs := flag.NewFlagSet("tui", flag.ContinueOnError)
	socket := fs.String("socket", "", "")
	noMouse := fs.Bool("no-mouse", false, "")
	pos, err := parse(fs, args, 0, 1, "[--socket PATH] [--no-mouse] [ID|NAME|GROUP]")
	if err != nil {
		return err
	}
	in, out, ok := terminal(e)
	if !ok {
		return errors.New("sky tui needs a terminal; in scripts use sky send, receive and history, or sky daemon")
	}
	if *socket == "" {
		*socket = defaultSocket(e.home)
	}
	c, err := e.open()
	if err != nil {
		return err
	}
	h, err := e.newHost(*socket) // the daemon's socket and the connection, shared with sky daemon and sky web
	if err != nil {
		c.Close()
		return err
	}
	defer h.close()
	h.adopt(c)
	go h.serve() // ends when h closes
	sub := c.Subscribe()
	defer sub.Close()
	d := &daemon{c: c, home: e.home}
	cfg := tui.Config{Backend: c, Events: sub.Events(), Run: d.tuiRun(e.ctx), NoMouse: *noMouse, Context: e.ctx}
	if len(pos) == 1 {
		cfg.Open = pos[0]
	}
	p := tea.NewProgram(tui.New(cfg), tea.WithContext(e.ctx), tea.WithInput(in), tea.WithOutput(out))
	if _, err := p.Run(); err != nil && !(errors.Is(err, tea.ErrProgramKilled) && e.ctx.Err() != nil) {
		return fmt.Errorf("the terminal chat failed: %w", err)
	}
	return nil
}

// terminal returns the terminal sky runs in.
func terminal(e *env) (in, out *os.File, ok bool) {
	in, inOK := e.stdin.(*os.File)
	out, outOK := e.stdout.(*os.File)
	if !inOK || !outOK || !term.IsTerminal(int(in.Fd())) || !term.IsTerminal(int(out.Fd())) {
		return nil, nil, false
	}
	return in, out, true
}

// tuiRun carries out the chat's composer commands as the daemon's cli
// method does: one of sky's everyday commands on the chat's client.
func (d *daemon) tuiRun(ctx context.Context) tui.RunFunc {
	return func(args []string) (string, error) {
		r, rerr := d.runCLI(ctx, cliParams{Args: args})
		if rerr != nil {
			return "", errors.New(rerr.Message)
		}
		if r.Status != 0 {
			msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(r.Stderr), "sky: "))
			if msg == "" {
				msg = fmt.Sprintf("sky %s failed (status %d)", args[0], r.Status)
			}
			return r.Stdout, errors.New(msg)
		}
		return r.Stdout + r.Stderr, nil
	}
}
