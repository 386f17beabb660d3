package main

// Broadcast lists: one text to many, as separate 1:1 messages.

import (
	"flag"
	"fmt"
	"strings"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/client/attach"
	"github.com/skymsg/sky/ui/safetext"
)

const broadcastUsage = "broadcast expects create NAME ID..., list, delete NAME, send NAME TEXT, edit NAME MSG TEXT or unsend NAME MSG"

func cmdBroadcast(e *env, args []string) error {
	if len(args) == 0 {
		return usageError(broadcastUsage)
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("broadcast "+sub, flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	switch sub {
	case "create":
		name, ids, err := parseIDs(fs, rest, "NAME ID...")
		if err != nil {
			return err
		}
		return withClient(e, func(c *client.Client) error {
			ids, err := resolveIDs(c, ids)
			if err != nil {
				return err
			}
			if err := c.SaveBroadcastList(name, ids); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Broadcast list %q saved with %d member(s); send to it with: sky broadcast send %q TEXT\n", name, len(ids), name)
			return nil
		})
	case "delete":
		pos, err := parse(fs, rest, 1, 1, "NAME")
		if err != nil {
			return err
		}
		return withClient(e, func(c *client.Client) error {
			if err := c.DeleteBroadcastList(pos[0]); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Broadcast list %q deleted.\n", pos[0])
			return nil
		})
	case "list":
		if _, err := parse(fs, rest, 0, 0, "no arguments"); err != nil {
			return err
		}
		return withClient(e, func(c *client.Client) error {
			ls, err := c.BroadcastLists()
			if err != nil {
				return err
			}
			n := contactNames(c)
			for _, l := range ls {
				if *asJSON {
					if err := writeJSON(e.stdout, map[string]any{"type": "broadcast_list", "name": l.Name, "members": l.Members}); err != nil {
						return err
					}
					continue
				}
				var members []string
				for _, m := range l.Members {
					members = append(members, n.label(m))
				}
				fmt.Fprintf(e.stdout, "%s: %s\n", safetext.Line(l.Name), strings.Join(members, ", "))
			}
			return nil
		})
	case "edit", "unsend":
		return cmdBroadcastAction(e, sub, fs, rest)
	case "send":
		pos, files, err := sendWith(fs, rest, "NAME TEXT (or NAME - to read the text from stdin), or NAME [--file PATH]... [TEXT]")
		if err != nil {
			return err
		}
		if len(files) > 0 {
			return e.sendFiles("the broadcast list "+pos[0], pos, files, *asJSON, true, func(c *client.Client, text string, p attach.FileProgress) ([]client.Message, []*attach.Prepared, error) {
				return c.BroadcastFiles(e.ctx, pos[0], text, files, p)
			})
		}
		return e.sendText("the broadcast list "+pos[0], pos[1], *asJSON, true, func(c *client.Client, text string) ([]client.Message, error) {
			return c.Broadcast(pos[0], text)
		})
	}
	return usageError("%s, not %q", broadcastUsage, sub)
}
