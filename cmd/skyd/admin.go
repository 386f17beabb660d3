package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/store"
)

const day = 24 * time.Hour

func admin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("skyd admin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	// --data and --db may also follow the subcommand.
	args, err := hoistStoreFlags(args)
	if err != nil {
		return usageErr(stderr, "%v", err)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	args = fs.Args()
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd := args[0] + " " + args[1]
	var fn func(context.Context, store.Store, []string, io.Writer, io.Writer) error
	switch cmd {
	case "codes create":
		fn = codesCreate
	case "codes list":
		fn = codesList
	case "codes revoke":
		fn = codesRevoke
	case "accounts list":
		fn = accountsList
	case "accounts extend":
		fn = accountsExtend
	case "accounts revoke":
		fn = accountsRevoke
	case "trust-root init":
		return trustRootInit(args[2:], stdout, stderr)
	case "trust-root certify":
		fn = trustRootCertify
	case "trust-root show":
		fn = trustRootShow
	default:
		fmt.Fprintf(stderr, "skyd admin: unknown command %q\n\n%s", cmd, usage)
		return errUsage
	}
	// certify sets up the data directory before the first start (the
	// offline trust root's way, README).
	st, err := openExisting(ctx, sf, cmd == "trust-root certify")
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(ctx, st, args[2:], stdout, stderr)
}

// openExisting opens the store of a server that exists: admin commands
// never create one, so a wrong or missing --data cannot make codes the
// running server has never heard of. With setup (trust-root certify, which
// an operator runs before the first start), the data directory is made.
func openExisting(ctx context.Context, sf storeFlags, setup bool) (store.Store, error) {
	if sf.db == "" {
		dir := sf.data
		if dir == "" {
			dir = defaultDataDir()
		}
		path := filepath.Join(dir, "skyd.db")
		if _, err := os.Stat(path); err != nil && !setup {
			return nil, fmt.Errorf("no skyd data in %s (%s: %v); give the running server's data directory with --data DIR, or its database with --db URL (skyd serve creates the data directory on its first start)",
				dir, path, errors.Unwrap(err))
		}
	}
	st, _, err := sf.open(ctx)
	return st, err
}

// hoistStoreFlags moves --data and --db (and -data, -db, with "=" or a
// separate value) to the front of args, so that they may come before or
// after the subcommand.
func hoistStoreFlags(args []string) ([]string, error) {
	var front, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || (name != "data" && name != "db") {
			rest = append(rest, a)
			continue
		}
		front = append(front, a)
		if !hasValue {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("%s needs a value", a)
			}
			i++
			front = append(front, args[i])
		}
	}
	return append(front, rest...), nil
}

func usageErr(stderr io.Writer, format string, args ...any) error {
	fmt.Fprintf(stderr, "skyd admin: "+format+"\n", args...)
	return errUsage
}

func codesCreate(ctx context.Context, st store.Store, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("codes create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	days := fs.Int("days", 0, "subscription days each code grants (required)")
	count := fs.Int("count", 1, "how many codes to print")
	valid := fs.Int("valid-days", 90, "days the codes can be redeemed before they expire")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usageErr(stderr, "codes create takes no arguments, got %q", pos)
	case *days < 1 || *days > 3650:
		return usageErr(stderr, "--days must be between 1 and 3650 (the subscription period each code grants)")
	case *count < 1 || *count > 10000:
		return usageErr(stderr, "--count must be between 1 and 10000")
	case *valid < 1 || *valid > 3650:
		return usageErr(stderr, "--valid-days must be between 1 and 3650")
	}
	codes, err := server.CreateCodes(ctx, st, *count, time.Duration(*days)*day, time.Now().Add(time.Duration(*valid)*day))
	if err != nil {
		return fmt.Errorf("creating codes: %w", err)
	}
	for _, c := range codes {
		fmt.Fprintln(stdout, c)
	}
	return nil
}

func accountsList(ctx context.Context, st store.Store, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return usageErr(stderr, "accounts list takes no arguments")
	}
	list, err := st.ListAccounts(ctx)
	if err != nil {
		return fmt.Errorf("listing accounts: %w", err)
	}
	fmt.Fprintln(stdout, "ID\tCREATED\tSUBSCRIPTION END")
	for _, a := range list {
		end := a.SubscriptionEnd.UTC().Format(time.RFC3339)
		if a.Revoked {
			end = "revoked"
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s\n", a.ID, a.Created.UTC().Format(time.DateOnly), end)
	}
	if len(list) == 0 {
		fmt.Fprintln(stderr, "skyd: no accounts yet (make an activation code: skyd admin codes create --days N)")
	}
	return nil
}

// codeIDHex is how many hex digits of a code's hash name it in codes list:
// the code itself is not stored, only its hash.
const codeIDHex = 10

// codesList prints the unredeemed codes: an ID (the start of the code's
// hash), the period each grants, when it expires, the days left and its age
// in days ("?" for codes made before skyd kept their day). Redeemed codes
// are deleted, so nothing says who redeemed which.
func codesList(ctx context.Context, st store.Store, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return usageErr(stderr, "codes list takes no arguments")
	}
	codes, err := st.ListCodes(ctx)
	if err != nil {
		return fmt.Errorf("listing codes: %w", err)
	}
	now := time.Now()
	fmt.Fprintln(stdout, "ID\tPERIOD\tEXPIRES\tLEFT\tAGE")
	for _, c := range codes {
		left := "expired"
		if c.Expires.After(now) {
			left = fmt.Sprintf("%dd", int(c.Expires.Sub(now).Hours()/24))
		}
		fmt.Fprintf(stdout, "%x\t%dd\t%s\t%s\t%s\n", c.Hash[:codeIDHex/2], int(c.Period/day),
			c.Expires.UTC().Format(time.DateOnly), left, codeAge(c.Created, now))
	}
	if len(codes) == 0 {
		fmt.Fprintln(stderr, "skyd: no unused codes (make some: skyd admin codes create --days N)")
	}
	return nil
}

// codeAge is how many whole days ago a code was made ("0d" on its day), or
// "?" when its creation day is unknown.
func codeAge(created, now time.Time) string {
	if created.IsZero() {
		return "?"
	}
	return fmt.Sprintf("%dd", int(now.Sub(created)/day))
}

// codesRevoke deletes an unredeemed code, named by the code itself or by
// its ID from codes list.
func codesRevoke(ctx context.Context, st store.Store, args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 {
		return usageErr(stderr, "codes revoke needs one code, or its ID from skyd admin codes list")
	}
	arg := strings.ToLower(strings.TrimSpace(args[0]))
	hash := server.HashCode(arg)
	if isHex(arg) && len(arg) == codeIDHex {
		codes, err := st.ListCodes(ctx)
		if err != nil {
			return fmt.Errorf("listing codes: %w", err)
		}
		for _, c := range codes {
			if fmt.Sprintf("%x", c.Hash[:codeIDHex/2]) == arg {
				hash = c.Hash
			}
		}
	}
	if err := st.RevokeCode(ctx, hash); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no unused code %s (it was redeemed, revoked, expired, or never made here; see skyd admin codes list)", args[0])
		}
		return fmt.Errorf("revoking the code: %w", err)
	}
	fmt.Fprintf(stdout, "%x\trevoked\n", hash[:codeIDHex/2])
	return nil
}

func isHex(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return s != ""
}

func accountArg(stderr io.Writer, cmd string, pos []string) (string, error) {
	if len(pos) != 1 {
		return "", usageErr(stderr, "%s needs exactly one account ID", cmd)
	}
	if !server.ValidAccountID(pos[0]) {
		return "", fmt.Errorf("%q is not an account ID (%d characters from %s)", pos[0], server.AccountIDLength, server.Alphabet)
	}
	return pos[0], nil
}

func notFound(id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no account %s (see skyd admin accounts list)", id)
	}
	return err
}

func accountsExtend(ctx context.Context, st store.Store, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("accounts extend", flag.ContinueOnError)
	fs.SetOutput(stderr)
	days := fs.Int("days", 0, "days to add to the subscription (required)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	id, err := accountArg(stderr, "accounts extend", pos)
	if err != nil {
		return err
	}
	if *days < 1 || *days > 3650 {
		return usageErr(stderr, "--days must be between 1 and 3650")
	}
	a, err := st.Extend(ctx, id, time.Duration(*days)*day, time.Now())
	if err != nil {
		return notFound(id, err)
	}
	fmt.Fprintf(stdout, "%s\t%s\n", a.ID, a.SubscriptionEnd.UTC().Format(time.RFC3339))
	return nil
}

func accountsRevoke(ctx context.Context, st store.Store, args []string, stdout, stderr io.Writer) error {
	id, err := accountArg(stderr, "accounts revoke", args)
	if err != nil {
		return err
	}
	if err := st.Revoke(ctx, id); err != nil {
		return notFound(id, err)
	}
	fmt.Fprintf(stdout, "%s\trevoked\n", id)
	return nil
}
