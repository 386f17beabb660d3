package main

// Groups: create and change them, send to them, read them.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/client/attach"
	"github.com/skymsg/sky/ui/safetext"
)

const groupUsage = "group expects create NAME ID..., add GROUP ID..., remove GROUP ID..., rename GROUP NAME, " +
	"admin GROUP ID [--remove], timer GROUP DURATION|off, leave GROUP, list, show GROUP, send GROUP TEXT, history GROUP, " +
	"receipts GROUP [on|off|default], link GROUP [--new|--revoke] [--qr], join LINK, approve GROUP ID, or deny GROUP ID"

// jsonGroup is a group as --json prints it.
type jsonGroup struct {
	Type     string   `json:"type"` // "group"
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Version  uint64   `json:"version"`
	Members  []string `json:"members"`
	Admins   []string `json:"admins"`
	Departed []string `json:"departed"`
	Timer    int64    `json:"timer"` // seconds, 0: off
	Member   bool     `json:"member"`
	Admin    bool     `json:"admin"`
	Signed   bool     `json:"signed"`      // its state is signed by its admins
	Link     bool     `json:"invite_link"` // it has an invite link
	// Unconfirmed: an invitation no other member has confirmed yet.
	Unconfirmed bool `json:"unconfirmed"`
	// JoinRequests: who asked to join with the link this device made.
	JoinRequests []string `json:"join_requests"`
}

func groupJSON(g client.Group) jsonGroup {
	return jsonGroup{Type: "group", ID: g.ID, Name: g.Name, Version: g.Version, Members: orEmpty(g.Members), Admins: orEmpty(g.Admins),
		Departed: orEmpty(g.Departed), Timer: int64(g.Timer / time.Second), Member: g.Member, Admin: g.Admin,
		Signed: g.Signed, Link: g.InviteLink, JoinRequests: orEmpty(g.JoinRequests), Unconfirmed: g.Unconfirmed}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func cmdGroup(e *env, args []string) error {
	if len(args) == 0 {
		return usageError(groupUsage)
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("group "+sub, flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	switch sub {
	case "create":
		name, ids, err := parseIDs(fs, rest, "NAME ID... (the members besides you)")
		if err != nil {
			return err
		}
		return e.groupChange(*asJSON, func(c *client.Client) (client.Group, error) {
			ids, err := resolveIDs(c, ids)
			if err != nil {
				return client.Group{}, err
			}
			return c.CreateGroup(name, ids)
		})
	case "add", "remove":
		ref, ids, err := parseIDs(fs, rest, "GROUP ID...")
		if err != nil {
			return err
		}
		return e.groupChange(*asJSON, func(c *client.Client) (client.Group, error) {
			ids, err := resolveIDs(c, ids)
			if err != nil {
				return client.Group{}, err
			}
			if sub == "add" {
				return c.AddMembers(ref, ids...)
			}
			return c.RemoveMembers(ref, ids...)
		})
	case "rename":
		pos, err := parse(fs, rest, 2, 2, "GROUP NAME")
		if err != nil {
			return err
		}
		return e.groupChange(*asJSON, func(c *client.Client) (client.Group, error) { return c.RenameGroup(pos[0], pos[1]) })
	case "admin":
		remove := fs.Bool("remove", false, "")
		pos, err := parse(fs, rest, 2, 2, "GROUP ID [--remove]")
		if err != nil {
			return err
		}
		return e.groupChange(*asJSON, func(c *client.Client) (client.Group, error) {
			id, err := resolveID(c, pos[1])
			if err != nil {
				return client.Group{}, err
			}
			return c.SetGroupAdmin(pos[0], id, !*remove)
		})
	case "timer":
		pos, err := parse(fs, rest, 2, 2, "GROUP DURATION|off")
		if err != nil {
			return err
		}
		d, err := parseTimer(pos[1])
		if err != nil {
			return usageError("%v", err)
		}
		return e.groupChange(*asJSON, func(c *client.Client) (client.Group, error) { return c.SetGroupTimer(pos[0], d) })
	case "leave":
		pos, err := parse(fs, rest, 1, 1, "GROUP")
		if err != nil {
			return err
		}
		return e.groupChange(*asJSON, func(c *client.Client) (client.Group, error) {
			if err := c.LeaveGroup(pos[0]); err != nil {
				return client.Group{}, err
			}
			return c.Group(pos[0])
		})
	case "list":
		if _, err := parse(fs, rest, 0, 0, "no arguments"); err != nil {
			return err
		}
		return withClient(e, func(c *client.Client) error {
			gs, err := c.Groups()
			if err != nil {
				return err
			}
			for _, g := range gs {
				if err := printGroup(e.stdout, g, *asJSON, false, nil); err != nil {
					return err
				}
			}
			return nil
		})
	case "show":
		pos, err := parse(fs, rest, 1, 1, "GROUP")
		if err != nil {
			return err
		}
		return withClient(e, func(c *client.Client) error {
			g, err := c.Group(pos[0])
			if err != nil {
				return err
			}
			return printGroup(e.stdout, g, *asJSON, true, contactNames(c))
		})
	case "send":
		return cmdGroupSend(e, fs, asJSON, rest)
	case "receipts":
		return cmdGroupReceipts(e, fs, asJSON, rest)
	case "link", "join", "approve", "deny":
		return cmdGroupLink(e, sub, fs, asJSON, rest)
	case "history":
		limit := fs.Int("limit", 0, "")
		pos, err := parse(fs, rest, 1, 1, "GROUP")
		if err != nil {
			return err
		}
		return withClient(e, func(c *client.Client) error {
			g, err := c.Group(pos[0])
			if err != nil {
				return err
			}
			return e.showHistory(c, g.ID, *limit, *asJSON)
		})
	}
	return usageError("%s, not %q", groupUsage, sub)
}

// parseIDs parses "FIRST ID...": a name or group, then 1 to 1000 Sky IDs
// or contacts' nicknames.
func parseIDs(fs *flag.FlagSet, args []string, what string) (string, []string, error) {
	pos, err := parse(fs, args, 2, 1+1000, what)
	if err != nil {
		return "", nil, err
	}
	return pos[0], pos[1:], nil // IDs or nicknames: resolveIDs, once the store is open
}

// groupChange makes a change of a group, sends it, and prints the group.
func (e *env) groupChange(asJSON bool, fn func(c *client.Client) (client.Group, error)) error {
	c, err := e.open()
	if err != nil {
		return err
	}
	defer e.release(c)
	g, err := fn(c)
	if err != nil {
		return fmt.Errorf("cannot change the group: %w", err)
	}
	stop := e.online(c)
	defer stop()
	if err := e.flush(c); err != nil {
		return fmt.Errorf("the group changed, but telling its members failed: %w (it is sent at the next sky receive, send or daemon)", err)
	}
	return printGroup(e.stdout, g, asJSON, true, contactNames(c))
}

// printGroup prints a group: one line (with its members when full), or
// its JSON object.
func printGroup(w io.Writer, g client.Group, asJSON, full bool, n names) error {
	if asJSON {
		return writeJSON(w, groupJSON(g))
	}
	var tags []string
	switch {
	case !g.Member:
		tags = append(tags, "left")
	case g.Admin:
		tags = append(tags, "admin")
	}
	if g.Timer != 0 {
		tags = append(tags, "disappearing "+formatTimer(g.Timer))
	}
	if g.InviteLink {
		tags = append(tags, "invite link")
	}
	if !g.Signed {
		tags = append(tags, "unsigned")
	}
	if g.Unconfirmed {
		tags = append(tags, "unconfirmed: no other member has confirmed this copy")
	}
	tag := ""
	if len(tags) > 0 {
		tag = " [" + strings.Join(tags, ", ") + "]"
	}
	fmt.Fprintf(w, "%s %s (%d members)%s\n", g.ID, safetext.Line(g.Name), len(g.Members), tag)
	if full {
		for _, m := range g.Members {
			role := ""
			for _, a := range g.Admins {
				if a == m {
					role = " admin"
				}
			}
			for _, d := range g.Departed {
				if d == m {
					role += " left"
				}
			}
			fmt.Fprintf(w, "  %s%s\n", n.label(m), role)
		}
		for _, j := range g.JoinRequests {
			fmt.Fprintf(w, "  %s asks to join (sky group approve|deny GROUP ID)\n", n.label(j))
		}
	}
	return nil
}

func cmdGroupSend(e *env, fs *flag.FlagSet, asJSON *bool, rest []string) error {
	pos, files, err := sendWith(fs, rest, "GROUP TEXT (or GROUP - to read the text from stdin), or GROUP [--file PATH]... [TEXT]")
	if err != nil {
		return err
	}
	if len(files) > 0 {
		return e.sendFiles("the group "+pos[0], pos, files, *asJSON, false, func(c *client.Client, text string, p attach.FileProgress) ([]client.Message, []*attach.Prepared, error) {
			m, preps, err := c.SendGroupFiles(e.ctx, pos[0], text, files, p)
			return []client.Message{m}, preps, err
		})
	}
	return e.sendText("the group "+pos[0], pos[1], *asJSON, false, func(c *client.Client, text string) ([]client.Message, error) {
		return one(c.SendGroup(pos[0], text))
	})
}

// text returns a message's text from the command line, or from stdin for
// "-"; an empty one is refused.
func (e *env) text(arg string) (string, error) {
	text := arg
	if arg == "-" {
		b, err := io.ReadAll(io.LimitReader(e.stdin, 1<<20))
		if err != nil {
			return "", fmt.Errorf("reading the text from stdin failed: %w", err)
		}
		text = strings.TrimSuffix(string(b), "\n")
	}
	if strings.TrimSpace(text) == "" {
		return "", errors.New("the message is empty; give some text")
	}
	return text, nil
}

// describeChange says in words what a group change did.
func describeChange(ch *client.GroupChange, self string, n names) string {
	who := func(ids []string) string {
		var out []string
		for _, id := range ids {
			label := n.label(id)
			if id == self {
				label = "you"
			}
			out = append(out, label)
		}
		return strings.Join(out, ", ")
	}
	by := who([]string{ch.By})
	var parts []string
	switch {
	case ch.Joined && ch.By == self && len(ch.Removed) == 0:
		parts = append(parts, fmt.Sprintf("you created the group %q with %s", ch.Name, who(ch.Added)))
	case ch.Joined:
		parts = append(parts, fmt.Sprintf("%s added you to the group %q (members: %s)", by, ch.Name, who(ch.Added)))
	default:
		if len(ch.Added) > 0 {
			parts = append(parts, fmt.Sprintf("%s added %s", by, who(ch.Added)))
		}
		if len(ch.Removed) > 0 {
			parts = append(parts, fmt.Sprintf("%s removed %s", by, who(ch.Removed)))
		}
		if len(ch.Left) > 0 {
			parts = append(parts, fmt.Sprintf("%s left", who(ch.Left)))
		}
		if ch.Renamed {
			parts = append(parts, fmt.Sprintf("%s renamed the group to %q", by, ch.Name))
		}
	}
	if len(ch.AdminsAdded) > 0 && !ch.Joined {
		parts = append(parts, fmt.Sprintf("%s made %s admin", by, who(ch.AdminsAdded)))
	}
	if len(ch.AdminsRemoved) > 0 {
		parts = append(parts, fmt.Sprintf("%s is no longer admin", who(ch.AdminsRemoved)))
	}
	if ch.TimerChanged {
		parts = append(parts, fmt.Sprintf("%s set disappearing messages to %s", by, formatTimer(ch.Timer)))
	}
	switch {
	case ch.LinkChanged && ch.InviteLink:
		parts = append(parts, fmt.Sprintf("%s made a new invite link", by))
	case ch.LinkChanged:
		parts = append(parts, fmt.Sprintf("%s revoked the invite link", by))
	}
	if len(ch.JoinRequests) > 0 {
		parts = append(parts, fmt.Sprintf("%s asks to join with the invite link (sky group approve GROUP %s, or deny)", who(ch.JoinRequests), ch.JoinRequests[0]))
	}
	return strings.Join(parts, "; ")
}

// groupCall serves the daemon's group methods.
func (d *daemon) groupCall(method string, p params) (any, *rpcError) {
	c := d.c
	fail := func(err error) *rpcError { return &rpcError{rpcServerError, oneLine(err.Error())} }
	members, err := resolveIDs(c, p.Members)
	if err != nil {
		return nil, fail(err)
	}
	var g client.Group
	switch method {
	case "group.create":
		g, err = c.CreateGroup(p.Name, members)
	case "group.add":
		g, err = c.AddMembers(p.Group, members...)
	case "group.remove":
		g, err = c.RemoveMembers(p.Group, members...)
	case "group.leave":
		if err := c.LeaveGroup(p.Group); err != nil {
			return nil, fail(err)
		}
		return nil, nil
	case "group.list":
		gs, err := c.Groups()
		if err != nil {
			return nil, fail(err)
		}
		out := []jsonGroup{}
		for _, g := range gs {
			out = append(out, groupJSON(g))
		}
		return out, nil
	case "group.send":
		m, err := c.SendGroup(p.Group, p.Text)
		if err != nil {
			return nil, fail(err)
		}
		return toJSON(m), nil
	case "group.receipts":
		rs, err := groupReceipts(c, p.Group, p.Set)
		if err != nil {
			return nil, fail(err)
		}
		return receiptsSettingJSON(rs), nil
	case "group.link", "group.join", "group.approve", "group.deny":
		return d.linkCall(method, p)
	case "group.history":
		g, err := c.Group(p.Group)
		if err != nil {
			return nil, fail(err)
		}
		out, err := historyJSON(c, g.ID, p.Limit)
		if err != nil {
			return nil, fail(err)
		}
		return out, nil
	}
	if err != nil {
		return nil, fail(err)
	}
	return groupJSON(g), nil
}
