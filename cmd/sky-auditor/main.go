// Command sky-auditor is an independent auditor of a Sky server's key
// directory: it follows the directory's log, checks that every epoch is
// well-formed and that the log only ever grows (no entry's history
// rewritten, no fork), and countersigns the heads it checked, which the
// server hands to clients that require this auditor. It is small enough to
// run on another machine, by another party (an NGO, a member of the
// organisation); its whole state is two small files.
//
//	sky-auditor init   [--state DIR]                               make the auditor's key; print its public key
//	sky-auditor run    [--state DIR] --server URL --trust-root KEY [--interval D] [--once]
//	sky-auditor status [--state DIR]                               what has been checked so far
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/keytrans"
	"github.com/skymsg/sky/protocol/curve"
)

const usage = `sky-auditor audits a Sky server's key directory.

usage:
  sky-auditor init   [--state DIR]           make this auditor's key and print its public key
  sky-auditor run    [--state DIR] --server URL --trust-root KEY [--interval 1m] [--once]
  sky-auditor status [--state DIR]           show what has been checked

The operator names the auditor with "skyd serve --kt-auditor KEY" (the key
init prints); clients that require it then use only heads it countersigned.
`

var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case errors.Is(err, ErrMisbehaviour):
		fmt.Fprintln(os.Stderr, "sky-auditor: ALARM:", err)
		fmt.Fprintln(os.Stderr, "sky-auditor: nothing more is countersigned; keep", stateFile, "as evidence and tell the users and the operator")
		os.Exit(3)
	default:
		fmt.Fprintln(os.Stderr, "sky-auditor:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "init":
		return cmdInit(args[1:], stdout, stderr)
	case "run":
		return cmdRun(ctx, args[1:], stdout, stderr)
	case "status":
		return cmdStatus(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "sky-auditor: unknown command %q\n\n%s", args[0], usage)
	return errUsage
}

func defaultStateDir() string {
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".sky-auditor")
	}
	return ".sky-auditor"
}

func flags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("sky-auditor "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("state", defaultStateDir(), "directory of the auditor's key and state")
	return fs, dir
}

func noArgs(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: %s takes no arguments, got %q", errUsage, fs.Name(), fs.Args())
	}
	return nil
}

func cmdInit(args []string, stdout, stderr io.Writer) error {
	fs, dir := flags("init", stderr)
	if err := noArgs(fs, args); err != nil {
		return err
	}
	kp := curve.GenerateKeyPair()
	if err := writeKey(*dir, kp.Private); err != nil {
		return err
	}
	fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(kp.Public.Bytes()))
	fmt.Fprintf(stderr, "sky-auditor: key in %s; give the public key above to the operator (skyd serve --kt-auditor KEY)\n", filepath.Join(*dir, keyFile))
	return nil
}

func parseRoot(s string) (curve.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return curve.PublicKey{}, fmt.Errorf("--trust-root is not base64: %w", err)
	}
	k, err := curve.ParsePublicKey(b)
	if err != nil {
		return curve.PublicKey{}, fmt.Errorf("--trust-root is not a trust root (skyd admin trust-root show prints it): %w", err)
	}
	return k, nil
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, dir := flags("run", stderr)
	server := fs.String("server", "", "the server's URL (wss://host or ws://127.0.0.1:7443)")
	rootFlag := fs.String("trust-root", "", "the operator's trust root (base64), as clients pin it")
	interval := fs.Duration("interval", time.Minute, "how often to check for new epochs")
	once := fs.Bool("once", false, "check once and exit (0: all checked and countersigned)")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	if *server == "" || *rootFlag == "" {
		return fmt.Errorf("%w: run needs --server URL and --trust-root KEY", errUsage)
	}
	root, err := parseRoot(*rootFlag)
	if err != nil {
		return err
	}
	key, err := readKey(*dir)
	if err != nil {
		return err
	}
	st, err := readState(*dir)
	if err != nil {
		return err
	}
	f := &follower{st: st, key: key, roots: []curve.PublicKey{root}, now: time.Now,
		save: func(s *state) error { return writeState(*dir, s) }}
	for {
		h, err := syncOnce(ctx, f, *server)
		switch {
		case errors.Is(err, ErrMisbehaviour):
			return err
		case err != nil && *once:
			return err
		case err != nil:
			fmt.Fprintf(stderr, "sky-auditor: %v; retrying in %v\n", err, *interval)
		default:
			if err := writeState(*dir, st); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "checked and countersigned head %d (%s)\n", h.Size, time.UnixMilli(int64(h.TimeMillis)).UTC().Format(time.RFC3339))
			if *once {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*interval):
		}
	}
}

// syncOnce dials the server and syncs; a long catch-up that outlives the
// server's patience for an unauthenticated connection goes on over a new
// one.
func syncOnce(ctx context.Context, f *follower, server string) (*keytrans.Head, error) {
	var last error
	for range 100 {
		c, err := conn.Dial(ctx, server)
		if err != nil {
			return nil, err
		}
		before := f.st.auditor.Head().Size
		h, err := f.sync(ctx, wireSource{c})
		c.Close()
		if err == nil || errors.Is(err, ErrMisbehaviour) {
			return h, err
		}
		last = err
		if f.st.auditor.Head().Size == before {
			return nil, err // no progress: not a slow catch-up
		}
	}
	return nil, last
}

func cmdStatus(args []string, stdout, stderr io.Writer) error {
	fs, dir := flags("status", stderr)
	if err := noArgs(fs, args); err != nil {
		return err
	}
	key, err := readKey(*dir)
	if err != nil {
		return err
	}
	st, err := readState(*dir)
	if err != nil {
		return err
	}
	h := st.auditor.Head()
	fmt.Fprintf(stdout, "auditor key: %s\n", base64.StdEncoding.EncodeToString(key.PublicKey().Bytes()))
	if h.Size == 0 {
		fmt.Fprintln(stdout, "checked: nothing yet (run sky-auditor run)")
		return nil
	}
	fmt.Fprintf(stdout, "checked: %d epochs, the last of %s\n", h.Size, time.UnixMilli(int64(h.TimeMillis)).UTC().Format(time.RFC3339))
	fmt.Fprintf(stdout, "directory key ID: %d\n", st.cert.KeyID)
	return nil
}
