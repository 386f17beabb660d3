// Command skyd is the Sky server.
//
//	skyd serve                 run the server (zero configuration: SQLite in the user data directory)
//	skyd admin codes create    print new activation codes
//	skyd admin codes list      list unused codes (ID, period, expiry, days left, age)
//	skyd admin codes revoke CODE|ID
//	skyd admin accounts list   list accounts (ID, created day, subscription end)
//	skyd admin accounts extend ID --days N
//	skyd admin accounts revoke ID
//	skyd admin trust-root init --out FILE   make the offline trust root (prints the key clients pin)
//	skyd admin trust-root certify --key FILE
//	skyd admin trust-root show             print the trust root clients pin
//
// Run `skyd serve -h` or `skyd admin -h` for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/server/store/postgres"
	"github.com/skymsg/sky/server/store/sqlite"
)

const usage = `skyd is the Sky server.

usage:
  skyd serve [flags]                              run the server
  skyd admin [--data DIR | --db URL] codes create --days N [--count K] [--valid-days D]
  skyd admin [--data DIR | --db URL] codes list   unused codes: ID, period, expiry, days left, age
  skyd admin [--data DIR | --db URL] codes revoke CODE|ID
  skyd admin [--data DIR | --db URL] accounts list
  skyd admin [--data DIR | --db URL] accounts extend ID --days N
  skyd admin [--data DIR | --db URL] accounts revoke ID
  skyd admin trust-root init --out FILE           new offline trust root; prints the key clients pin
  skyd admin [--data DIR | --db URL] trust-root certify --key FILE [--key-id N]
  skyd admin [--data DIR | --db URL] trust-root show

Admin commands open only an existing data directory or database (the
running server's); --data and --db may also follow the subcommand.
Run "skyd serve -h" for the server's flags.
`

// errUsage marks a command line that cannot be run; it exits with status 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "skyd:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "admin":
		return admin(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "skyd: unknown command %q\n\n%s", args[0], usage)
	return errUsage
}

// storeFlags are the flags that choose the database, shared by serve and
// admin.
type storeFlags struct {
	data string
	db   string
}

func (s *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.data, "data", "", "data directory for the embedded SQLite store (default: "+defaultDataDir()+")")
	fs.StringVar(&s.db, "db", "", "PostgreSQL URL (postgres://…) instead of the embedded SQLite store")
}

// open opens the chosen store, creating the data directory if needed.
func (s *storeFlags) open(ctx context.Context) (store.Store, string, error) {
	if s.db != "" {
		if !strings.HasPrefix(s.db, "postgres://") && !strings.HasPrefix(s.db, "postgresql://") {
			return nil, "", fmt.Errorf("--db must be a postgres:// URL, got %q", redactURL(s.db))
		}
		st, err := postgres.Open(ctx, s.db)
		if err != nil {
			return nil, "", fmt.Errorf("opening PostgreSQL at %s: %w (is it running, and does the database exist?)", redactURL(s.db), err)
		}
		return st, "PostgreSQL " + redactURL(s.db), nil
	}
	dir := s.data
	if dir == "" {
		dir = defaultDataDir()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("creating data directory: %w (choose another with --data)", err)
	}
	path := filepath.Join(dir, "skyd.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, "", fmt.Errorf("opening %s: %w", path, err)
	}
	return st, "SQLite " + path, nil
}

// redactURL drops a password from a database URL before it is printed.
func redactURL(u string) string {
	at := strings.LastIndexByte(u, '@')
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return u
	}
	userinfo := u[scheme+3 : at]
	if i := strings.IndexByte(userinfo, ':'); i >= 0 {
		return u[:scheme+3] + userinfo[:i] + ":xxxxx" + u[at:]
	}
	return u
}

// defaultDataDir is the per-user data directory: $XDG_DATA_HOME/skyd or
// ~/.local/share/skyd on Unix, ~/Library/Application Support/skyd on macOS,
// %LocalAppData%\skyd on Windows.
func defaultDataDir() string {
	home, _ := os.UserHomeDir()
	switch runtime.GOOS {
	case "windows":
		if d := os.Getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "skyd")
		}
	case "darwin":
		return filepath.Join(home, "Library", "Application Support", "skyd")
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "skyd")
	}
	return filepath.Join(home, ".local", "share", "skyd")
}

// parseInterleaved parses flags that may come before or after positional
// arguments (as in "accounts extend ID --days 30") and returns the
// positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
