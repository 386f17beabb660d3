package main

// Profiles: the user's display name and avatar (package client/profile),
// shared end to end with contacts and group members only.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/client/profile"
	"github.com/skymsg/sky/ui/safetext"
)

func cmdProfile(e *env, args []string) error {
	if len(args) == 0 {
		return usageError("profile expects set --name NAME [--avatar FILE|--no-avatar] or show [ID] [--json]")
	}
	switch args[0] {
	case "set":
		fs := flag.NewFlagSet("profile set", flag.ContinueOnError)
		name := fs.String("name", "", "")
		avatar := fs.String("avatar", "", "")
		noAvatar := fs.Bool("no-avatar", false, "")
		if _, err := parse(fs, args[1:], 0, 0, "--name NAME [--avatar FILE|--no-avatar]"); err != nil {
			return err
		}
		return withClient(e, func(c *client.Client) error {
			p, err := setProfile(c, *name, *avatar, *noAvatar)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Profile version %d set; it goes end to end to your contacts now, and to group members with your next message to the group.\n", p.Version)
			stop := e.online(c)
			defer stop()
			return e.flush(c)
		})
	case "show":
		fs := flag.NewFlagSet("profile show", flag.ContinueOnError)
		asJSON := fs.Bool("json", false, "")
		avatarOut := fs.String("avatar-out", "", "")
		pos, err := parse(fs, args[1:], 0, 1, "[ID] [--json] [--avatar-out FILE]")
		if err != nil {
			return err
		}
		return withClient(e, func(c *client.Client) error {
			return showProfile(e, c, pos, *asJSON, *avatarOut)
		})
	}
	return usageError("profile expects set or show, not %q", args[0])
}

// setProfile sets the profile: the avatar is read from path (none: the
// current one stays, unless clear).
func setProfile(c *client.Client, name, path string, clear bool) (client.Profile, error) {
	var avatar []byte
	if old, err := c.OwnProfile(); err == nil && !clear {
		avatar = old.Avatar
	} else if err != nil && !errors.Is(err, client.ErrNoProfile) {
		return client.Profile{}, err
	}
	if path != "" {
		a, err := profile.Avatar(path)
		if err != nil {
			return client.Profile{}, err
		}
		avatar = a
	}
	return c.SetProfile(name, avatar)
}

func showProfile(e *env, c *client.Client, pos []string, asJSON bool, avatarOut string) error {
	id := ""
	p, err := c.OwnProfile()
	if len(pos) == 1 {
		if id, err = resolveID(c, pos[0]); err != nil {
			return err
		}
		p, err = c.ProfileOf(id)
	}
	if err != nil {
		return err
	}
	if avatarOut != "" && len(p.Avatar) > 0 {
		if err := os.WriteFile(avatarOut, p.Avatar, 0o600); err != nil {
			return fmt.Errorf("writing the avatar: %w", err)
		}
	}
	names, _ := c.Names()
	if asJSON {
		return writeJSON(e.stdout, profileJSON(id, p, names[id]))
	}
	if id == "" {
		fmt.Fprintf(e.stdout, "Your profile (version %d): %s\n", p.Version, safetext.Line(p.Name))
	} else {
		fmt.Fprintf(e.stdout, "%s's profile (version %d): %s\n", safetext.Line(id), p.Version, safetext.Line(p.Name))
		fmt.Fprintf(e.stdout, "Shown as: %s\n", safetext.Line(names[id].Display()))
	}
	if len(p.Avatar) > 0 {
		fmt.Fprintf(e.stdout, "Avatar: %s, %d bytes\n", p.AvatarType, len(p.Avatar))
	}
	return nil
}

// profileJSON is a profile as sky's JSON output and the daemon show it
// (the avatar only by its size: profile show --avatar-out writes it).
func profileJSON(id string, p client.Profile, n client.Name) map[string]any {
	out := map[string]any{"name": p.Name, "version": p.Version, "avatar_bytes": len(p.Avatar), "avatar_type": p.AvatarType}
	if id != "" {
		out["id"], out["display"], out["clash"] = id, n.Display(), n.Clash
	}
	return out
}

// The daemon's profile methods (rpcmethods.go).

func rpcProfileSet(d *daemon, _ context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
	pr, err := setProfile(d.c, p.Name, p.Avatar, p.NoAvatar)
	if err != nil {
		return nil, rpcFail(err)
	}
	return profileJSON("", pr, client.Name{}), nil
}

func rpcProfileGet(d *daemon, _ context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
	pr, err := d.c.OwnProfile()
	if p.ID != "" {
		pr, err = d.c.ProfileOf(p.ID)
	}
	if err != nil {
		return nil, rpcFail(err)
	}
	names, _ := d.c.Names()
	return profileJSON(p.ID, pr, names[p.ID]), nil
}
