package main

// Typing indicators (package client/typing): off by default; a setting.

import (
	"context"
	"flag"
	"fmt"

	"github.com/skymsg/sky/client"
)

func cmdTyping(e *env, args []string) error {
	pos, err := parse(flag.NewFlagSet("typing", flag.ContinueOnError), args, 0, 1, "[on|off]")
	if err != nil {
		return err
	}
	if len(pos) == 1 && pos[0] != "on" && pos[0] != "off" {
		return usageError("typing expects on or off, not %q", pos[0])
	}
	return withClient(e, func(c *client.Client) error {
		if len(pos) == 1 {
			if err := c.SetTypingIndicators(pos[0] == "on"); err != nil {
				return err
			}
		}
		on, err := c.TypingIndicators()
		if err != nil {
			return err
		}
		if on {
			fmt.Fprintln(e.stdout, "Typing indicators are on: contacts and groups see when you type (sky web, sky tui), and you see theirs.")
		} else {
			fmt.Fprintln(e.stdout, "Typing indicators are off: nobody sees when you type, and you do not see when others do.")
		}
		return nil
	})
}

// The daemon's typing methods (rpcmethods.go).

func rpcTypingSet(d *daemon, _ context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
	return nil, rpcFail(d.c.SetTypingIndicators(p.On))
}

func rpcTyping(d *daemon, _ context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
	return nil, rpcFail(d.c.Typing(rpcActionConv(p), p.Typing))
}
