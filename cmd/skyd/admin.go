package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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
	st, _, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(ctx, st, args[2:], stdout, stderr)
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
	for _, a := range list {
		end := a.SubscriptionEnd.UTC().Format(time.RFC3339)
		if a.Revoked {
			end = "revoked"
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s\n", a.ID, a.Created.UTC().Format(time.DateOnly), end)
	}
	return nil
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
