package main

// Group invite links: make, show and revoke one, join with one, and answer
// who asked.

import (
	"flag"
	"fmt"

	"github.com/skymsg/sky/client"
)

func cmdGroupLink(e *env, sub string, fs *flag.FlagSet, asJSON *bool, rest []string) error {
	switch sub {
	case "link":
		fresh := fs.Bool("new", false, "")
		revoke := fs.Bool("revoke", false, "")
		qr := fs.Bool("qr", false, "")
		pos, err := parse(fs, rest, 1, 1, "GROUP [--new|--revoke] [--qr]")
		if err != nil {
			return err
		}
		if *fresh && *revoke {
			return usageError("group link takes --new or --revoke, not both")
		}
		if *revoke {
			return e.groupChange(*asJSON, func(c *client.Client) (client.Group, error) { return c.RevokeInviteLink(pos[0]) })
		}
		return e.showLink(pos[0], *fresh, *qr)
	case "join":
		pos, err := parse(fs, rest, 1, 1, "LINK (sky:join:…, from a group's admin)")
		if err != nil {
			return err
		}
		return e.joinGroup(pos[0])
	}
	pos, err := parse(fs, rest, 2, 2, "GROUP ID")
	if err != nil {
		return err
	}
	return e.groupChange(*asJSON, func(c *client.Client) (client.Group, error) {
		id, err := resolveID(c, pos[1])
		if err != nil {
			return client.Group{}, err
		}
		return c.AnswerJoin(pos[0], id, sub == "approve")
	})
}

// showLink prints a group's invite link, making a new one first if asked
// (a signed change sent to the members).
func (e *env) showLink(ref string, fresh, qr bool) error {
	c, err := e.open()
	if err != nil {
		return err
	}
	defer e.release(c)
	var link string
	if fresh {
		if link, _, err = c.MakeInviteLink(ref); err != nil {
			return fmt.Errorf("cannot make an invite link: %w", err)
		}
		stop := e.online(c)
		defer stop()
		if err := e.flush(c); err != nil {
			return fmt.Errorf("the link is made, but telling the members failed: %w (it is sent at the next sky receive, send or daemon)", err)
		}
	} else if link, err = c.InviteLink(ref); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, link)
	fmt.Fprintln(e.stderr, "sky: whoever has this link learns your Sky ID and the group's ID and can ask you to let them in")
	fmt.Fprintln(e.stderr, "sky: (sky group approve|deny GROUP ID); nothing else of the group. Revoke it with sky group link GROUP --revoke.")
	if qr {
		return renderQR(e.stdout, []byte(link))
	}
	return nil
}

// joinGroup asks the admin named in a link to let the user in.
func (e *env) joinGroup(link string) error {
	c, err := e.open()
	if err != nil {
		return err
	}
	defer e.release(c)
	admin, gid, err := c.JoinGroup(link)
	if err != nil {
		return fmt.Errorf("cannot ask to join: %w", err)
	}
	stop := e.online(c)
	defer stop()
	if err := e.flush(c); err != nil {
		return fmt.Errorf("asking to join failed: %w (it is sent at the next sky receive, send or daemon)", err)
	}
	fmt.Fprintf(e.stdout, "asked %s to let you into group %s; it appears here once they approve\n", admin, gid)
	return nil
}

// linkCall serves the daemon's invite-link methods.
func (d *daemon) linkCall(method string, p params) (any, *rpcError) {
	c := d.c
	var link string
	var err error
	switch {
	case method == "group.join":
		admin, gid, err := c.JoinGroup(p.Link)
		if err != nil {
			return nil, rpcFail(err)
		}
		return map[string]string{"admin": admin, "group": gid}, nil
	case method == "group.approve" || method == "group.deny":
		g, err := c.AnswerJoin(p.Group, p.ID, method == "group.approve")
		if err != nil {
			return nil, rpcFail(err)
		}
		return groupJSON(g), nil
	case p.Set == "new":
		link, _, err = c.MakeInviteLink(p.Group)
	case p.Set == "revoke":
		_, err = c.RevokeInviteLink(p.Group)
	case p.Set == "":
		link, err = c.InviteLink(p.Group)
	default:
		return nil, &rpcError{rpcInvalidParams, `set is "new", "revoke" or absent`}
	}
	if err != nil {
		return nil, rpcFail(err)
	}
	return map[string]string{"link": link}, nil
}
