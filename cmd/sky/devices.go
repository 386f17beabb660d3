package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/skymsg/sky/client"
)

// sky devices (list, link, remove) and sky link: linked devices.

// linkTimeout is how long sky devices link waits for the new device: the
// link's slots live 10 minutes at the server.
const linkTimeout = 9 * time.Minute

func cmdDevices(e *env, args []string) error {
	if len(args) == 0 {
		return usageError("devices needs a subcommand: list, link or remove N")
	}
	switch args[0] {
	case "list":
		return devicesList(e, args[1:])
	case "link":
		return devicesLink(e, args[1:])
	case "remove", "unlink":
		return devicesRemove(e, args[1:])
	}
	return usageError("unknown devices subcommand %q: list, link or remove N", args[0])
}

func devicesList(e *env, args []string) error {
	fs := flag.NewFlagSet("devices list", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	if _, err := parse(fs, args, 0, 0, "[--json]"); err != nil {
		return err
	}
	c, err := e.open()
	if err != nil {
		return err
	}
	defer e.release(c)
	ds, version, err := c.Devices()
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e.stdout, ds)
	}
	for _, d := range ds {
		mark := ""
		if d.Current {
			mark = " (this device)"
		}
		fmt.Fprintf(e.stdout, "%d%s\n", d.ID, mark)
	}
	fmt.Fprintf(e.stderr, "sky: device list version %d, signed by your identity key\n", version)
	return nil
}

func devicesLink(e *env, args []string) error {
	fs := flag.NewFlagSet("devices link", flag.ContinueOnError)
	if _, err := parse(fs, args, 0, 0, "no arguments"); err != nil {
		return err
	}
	c, err := e.open()
	if err != nil {
		return err
	}
	defer e.release(c)
	stop := e.online(c)
	defer stop()
	ctx, cancel := context.WithTimeout(e.ctx, linkTimeout)
	defer cancel()
	dev, err := c.LinkDevice(ctx, func(code string) {
		fmt.Fprintf(e.stdout, "On the new device run: sky link --server %s --trust-root %s %s\n", c.Server(), c.TrustRoot(), code)
		renderQR(e.stdout, []byte(code))
		fmt.Fprintln(e.stderr, "sky: waiting for the new device (the code works once, for 9 minutes)")
	})
	if err != nil {
		return fmt.Errorf("linking failed: %w", err)
	}
	fmt.Fprintf(e.stdout, "linked device %d\n", dev)
	return nil
}

func devicesRemove(e *env, args []string) error {
	fs := flag.NewFlagSet("devices remove", flag.ContinueOnError)
	rest, err := parse(fs, args, 1, 1, "N (the device's number, from sky devices list)")
	if err != nil {
		return err
	}
	n, err := strconv.ParseUint(rest[0], 10, 8)
	if err != nil || n == 0 {
		return usageError("devices remove takes a device number from sky devices list, got %q", rest[0])
	}
	c, err := e.open()
	if err != nil {
		return err
	}
	defer e.release(c)
	stop := e.online(c)
	defer stop()
	ctx, cancel := context.WithTimeout(e.ctx, 2*connectTimeout)
	defer cancel()
	if err := c.RemoveDevice(ctx, uint32(n)); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "removed device %d: it erases itself when it next connects\n", n)
	return nil
}

// cmdLink links this home to an existing account as a new device.
func cmdLink(e *env, args []string) error {
	fs := flag.NewFlagSet("link", flag.ContinueOnError)
	server := fs.String("server", "", "")
	trustRoot := fs.String("trust-root", "", "")
	rest, err := parse(fs, args, 1, 1, "CODE --server URL --trust-root KEY")
	if err != nil {
		return err
	}
	if *server == "" || *trustRoot == "" {
		return usageError("link needs the code, --server URL and --trust-root KEY (sky devices link on your other device prints all three)")
	}
	root, err := client.ParseTrustRoot(*trustRoot)
	if err != nil {
		return usageError("--trust-root: %v", err)
	}
	if exists, _ := storeExists(e.home); exists {
		return fmt.Errorf("there is already a Sky account in %s; choose another directory with --home", e.home)
	}
	pass, err := e.passphrase(true)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(e.ctx, linkTimeout)
	defer cancel()
	c, err := client.Link(ctx, storeDir(e.home), pass, *server, root, rest[0], e.options())
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = errors.New("the other device did not finish in time; run sky devices link there again")
		}
		return fmt.Errorf("linking failed: %w", err)
	}
	defer e.release(c)
	fmt.Fprintln(e.stdout, c.ID())
	fmt.Fprintf(e.stderr, "sky: this device is now device %d of %s\n", c.DeviceID(), c.ID())
	return nil
}

// describeDeviceList shows a change of an account's signed device list:
// a contact's ("Bob added a device") or the user's own.
func describeDeviceList(e *client.DeviceListEvent, self string, n names) (map[string]any, string, bool) {
	obj := map[string]any{"type": "device_list", "peer": e.Peer, "version": e.Version, "devices": e.Devices, "added": e.Added, "removed": e.Removed}
	who := n.label(e.Peer) + " has"
	if e.Peer == self {
		who = "your account has"
	}
	var what string
	switch {
	case len(e.Added) > 0 && len(e.Removed) > 0:
		what = fmt.Sprintf("added device(s) %v and removed %v", e.Added, e.Removed)
	case len(e.Added) > 0:
		what = fmt.Sprintf("added a device (%v)", e.Added)
	default:
		what = fmt.Sprintf("removed device(s) %v", e.Removed)
	}
	return obj, fmt.Sprintf("%s %s: now %d device(s), on a list signed by their key", who, what, len(e.Devices)), true
}
