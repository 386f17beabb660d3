package main

// The account: creating it, its ID, the panic passphrase, its state on the server.

import (
	"context"
	"flag"
	"fmt"
	"strconv"

	"github.com/skymsg/sky/client"
)

func cmdInit(e *env, args []string) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	server := fs.String("server", "", "")
	code := fs.String("code", "", "")
	trustRoot := fs.String("trust-root", "", "")
	asJSON := fs.Bool("json", false, "")
	wipeAfter := fs.Int("wipe-after", 0, "")
	if _, err := parse(fs, args, 0, 0, "--server URL --trust-root KEY --code CODE"); err != nil {
		return err
	}
	if *server == "" || *code == "" || *trustRoot == "" {
		return usageError("init needs --server URL, --trust-root KEY and --code CODE (the server's trust root and an activation code, from your server's operator)")
	}
	root, err := client.ParseTrustRoot(*trustRoot)
	if err != nil {
		return usageError("--trust-root: %v", err)
	}
	if exists, _ := storeExists(e.home); exists {
		return fmt.Errorf("there is already a Sky account in %s; use it, or choose another directory with --home", e.home)
	}
	pass, err := e.passphrase(true)
	if err != nil {
		return err
	}
	opts := e.options()
	if *wipeAfter < 0 {
		return usageError("--wipe-after takes a number of failed unlocks (0: never)")
	}
	opts.MaxFailedUnlocks = *wipeAfter
	ctx, cancel := context.WithTimeout(e.ctx, 2*connectTimeout)
	defer cancel()
	c, err := client.Register(ctx, storeDir(e.home), pass, *server, root, *code, opts)
	if err != nil {
		return fmt.Errorf("creating the account failed: %w", err)
	}
	defer e.release(c)
	if *asJSON {
		return writeJSON(e.stdout, map[string]string{"id": c.ID(), "server": c.Server()})
	}
	fmt.Fprintln(e.stdout, c.ID())
	fmt.Fprintf(e.stderr, "sky: your Sky ID is %s; give it to your contacts (sky id --qr shows it as a QR code)\n", c.ID())
	return nil
}

func cmdID(e *env, args []string) error {
	fs := flag.NewFlagSet("id", flag.ContinueOnError)
	qr := fs.Bool("qr", false, "")
	if _, err := parse(fs, args, 0, 0, "no arguments"); err != nil {
		return err
	}
	c, err := e.open()
	if err != nil {
		return err
	}
	defer e.release(c)
	fmt.Fprintln(e.stdout, c.ID())
	if *qr {
		return renderQR(e.stdout, []byte(c.ContactURI()))
	}
	return nil
}

func cmdPanic(e *env, args []string) error {
	if len(args) == 0 {
		return usageError("panic expects set [--delete-account | --wipe-all-devices], clear, status or wipe-after N")
	}
	switch args[0] {
	case "set":
		fs := flag.NewFlagSet("panic set", flag.ContinueOnError)
		del := fs.Bool("delete-account", false, "")
		all := fs.Bool("wipe-all-devices", false, "")
		if _, err := parse(fs, args[1:], 0, 0, "[--delete-account | --wipe-all-devices]"); err != nil {
			return err
		}
		if *del && *all {
			return usageError("panic set takes --delete-account or --wipe-all-devices, not both (a deleted account can no longer order its other devices to erase themselves)")
		}
		return withClient(e, func(c *client.Client) error {
			p, err := e.panicPassphrase()
			if err != nil {
				return err
			}
			if err := c.SetPanicOptions(p, *del, *all); err != nil {
				return err
			}
			what := "erases this account's data on this device"
			if *del {
				what += " and deletes the account on the server"
			}
			if *all {
				what += " and orders the account's other devices to erase themselves"
			}
			fmt.Fprintf(e.stdout, "Panic passphrase set: typed at any unlock, it %s.\n", what)
			return nil
		})
	case "clear":
		if _, err := parse(flag.NewFlagSet("panic clear", flag.ContinueOnError), args[1:], 0, 0, "no arguments"); err != nil {
			return err
		}
		return withClient(e, func(c *client.Client) error { return c.ClearPanic() })
	case "wipe-after":
		pos, err := parse(flag.NewFlagSet("panic wipe-after", flag.ContinueOnError), args[1:], 1, 1, "N (failed unlocks; 0: never)")
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(pos[0])
		if err != nil || n < 0 {
			return usageError("panic wipe-after takes a number of failed unlocks (0: never)")
		}
		return withClient(e, func(c *client.Client) error { return c.SetMaxFailedUnlocks(n) })
	case "status":
		if _, err := parse(flag.NewFlagSet("panic status", flag.ContinueOnError), args[1:], 0, 0, "no arguments"); err != nil {
			return err
		}
		return withClient(e, func(c *client.Client) error {
			set, del, err := c.PanicSettings()
			if err != nil {
				return err
			}
			all, err := c.PanicWipesDevices()
			if err != nil {
				return err
			}
			if n := c.MaxFailedUnlocks(); n > 0 {
				fmt.Fprintf(e.stdout, "%d failed unlocks in a row erase everything\n", n)
			}
			switch {
			case !set:
				fmt.Fprintln(e.stdout, "no panic passphrase")
			case del:
				fmt.Fprintln(e.stdout, "panic passphrase set; it also deletes the server account")
			case all:
				fmt.Fprintln(e.stdout, "panic passphrase set; it also wipes the account's other devices")
			default:
				fmt.Fprintln(e.stdout, "panic passphrase set")
			}
			return nil
		})
	}
	return usageError("panic expects set, clear, status or wipe-after, not %q", args[0])
}

func cmdAccount(e *env, args []string) error {
	if len(args) == 0 {
		return usageError("account expects status or delete")
	}
	switch args[0] {
	case "status":
		fs := flag.NewFlagSet("account status", flag.ContinueOnError)
		asJSON := fs.Bool("json", false, "")
		if _, err := parse(fs, args[1:], 0, 0, "[--json]"); err != nil {
			return err
		}
		return withClient(e, func(c *client.Client) error {
			stop, err := e.connect(c)
			if err != nil {
				return err
			}
			defer stop()
			ctx, cancel := context.WithTimeout(e.ctx, connectTimeout)
			defer cancel()
			info, err := c.AccountInfo(ctx)
			if err != nil {
				return err
			}
			ec, ky, err := c.PreKeyCounts(ctx)
			if err != nil {
				return err
			}
			if *asJSON {
				return writeJSON(e.stdout, map[string]any{"id": info.ID, "server": c.Server(), "created": info.Created,
					"subscription_end": info.SubscriptionEnd, "revoked": info.Revoked, "can_send": info.CanSend, "prekeys_ec": ec, "prekeys_kyber": ky})
			}
			fmt.Fprintf(e.stdout, "Sky ID:        %s\nServer:        %s\nCreated:       %s\nSubscription:  until %s\n",
				info.ID, c.Server(), info.Created.Format("2006-01-02"), info.SubscriptionEnd.Local().Format("2006-01-02 15:04"))
			switch {
			case info.Revoked:
				fmt.Fprintln(e.stdout, "Status:        revoked by the operator; you cannot send")
			case !info.CanSend:
				fmt.Fprintln(e.stdout, "Status:        subscription expired; you cannot send (ask your operator to extend it)")
			default:
				fmt.Fprintln(e.stdout, "Status:        active")
			}
			fmt.Fprintf(e.stdout, "Prekeys:       %d EC, %d Kyber on the server\n", ec, ky)
			return nil
		})
	case "delete":
		fs := flag.NewFlagSet("account delete", flag.ContinueOnError)
		yes := fs.Bool("yes", false, "")
		if _, err := parse(fs, args[1:], 0, 0, "[--yes]"); err != nil {
			return err
		}
		if !*yes {
			return usageError("account delete erases your account on the server and this device for good; add --yes to do it")
		}
		return withClient(e, func(c *client.Client) error {
			stop, err := e.connect(c)
			if err != nil {
				return err
			}
			defer stop()
			ctx, cancel := context.WithTimeout(e.ctx, connectTimeout)
			defer cancel()
			id := c.ID()
			if err := c.DeleteAccount(ctx); err != nil {
				return fmt.Errorf("deleting the account failed: %w", err)
			}
			fmt.Fprintf(e.stdout, "Deleted the account %s on the server and this device.\n", id)
			return nil
		})
	}
	return usageError("account expects status or delete, not %q", args[0])
}
