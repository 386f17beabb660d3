package main

// Broadcast lists: one text to many, as separate 1:1 messages.

import (
	"flag"
	"fmt"
	"strings"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/ui/safetext"
)

const broadcastUsage = "broadcast expects create NAME ID..., list, delete NAME, or send NAME TEXT"

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
		return withClient(e, func(c *client.Client) error { return c.SaveBroadcastList(name, ids) })
	case "delete":
		pos, err := parse(fs, rest, 1, 1, "NAME")
		if err != nil {
			return err
		}
		return withClient(e, func(c *client.Client) error { return c.DeleteBroadcastList(pos[0]) })
	case "list":
		if _, err := parse(fs, rest, 0, 0, "no arguments"); err != nil {
			return err
		}
		return withClient(e, func(c *client.Client) error {
			ls, err := c.BroadcastLists()
			if err != nil {
				return err
			}
			for _, l := range ls {
				if *asJSON {
					if err := writeJSON(e.stdout, map[string]any{"type": "broadcast_list", "name": l.Name, "members": l.Members}); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintf(e.stdout, "%s: %s\n", safetext.Line(l.Name), strings.Join(l.Members, " "))
			}
			return nil
		})
	case "send":
		pos, err := parse(fs, rest, 2, 2, "NAME TEXT (or NAME - to read the text from stdin)")
		if err != nil {
			return err
		}
		return e.sendText("the broadcast list "+pos[0], pos[1], *asJSON, true, func(c *client.Client, text string) ([]client.Message, error) {
			return c.Broadcast(pos[0], text)
		})
	}
	return usageError("%s, not %q", broadcastUsage, sub)
}
