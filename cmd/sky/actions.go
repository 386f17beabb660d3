package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/ui/safetext"
)

// sky reply, react, edit, unsend and search: acting on messages already in
// a conversation (package client/actions), and finding them.

// conversationArg resolves CONV: a contact's ID or nickname, else taken as
// a group's ID or name (the client resolves it).
func conversationArg(c *client.Client, arg string) string {
	if id, err := resolveID(c, arg); err == nil {
		return id
	}
	return arg
}

// cmdReply: sky reply CONV MESSAGE_ID TEXT [--json]
func cmdReply(e *env, args []string) error {
	fs := flag.NewFlagSet("reply", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	pos, err := parse(fs, args, 3, 3, "CONV MESSAGE_ID TEXT")
	if err != nil {
		return err
	}
	return withClient(e, func(c *client.Client) error {
		m, err := c.Reply(conversationArg(c, pos[0]), strings.ToLower(pos[1]), pos[2])
		if err != nil {
			return err
		}
		return e.sent(c, m, *asJSON)
	})
}

// sent flushes a new message and says so.
func (e *env) sent(c *client.Client, m client.Message, asJSON bool) error {
	stop := e.online(c)
	defer stop()
	if err := e.flush(c); err != nil {
		return err
	}
	if asJSON {
		return writeJSON(e.stdout, toJSON(m))
	}
	fmt.Fprintf(e.stdout, "%s\n", m.ID)
	return nil
}

// cmdReact: sky react CONV MESSAGE_ID [EMOJI] (no EMOJI: remove yours)
func cmdReact(e *env, args []string) error {
	fs := flag.NewFlagSet("react", flag.ContinueOnError)
	pos, err := parse(fs, args, 2, 3, "CONV MESSAGE_ID [EMOJI]")
	if err != nil {
		return err
	}
	emoji := ""
	if len(pos) == 3 {
		emoji = pos[2]
	}
	return e.act(pos[0], func(c *client.Client, conv string) (string, error) {
		if emoji == "" {
			return "Reaction removed.", c.React(conv, strings.ToLower(pos[1]), "")
		}
		return "Reacted with " + safetext.Line(emoji) + ".", c.React(conv, strings.ToLower(pos[1]), emoji)
	})
}

// cmdEdit: sky edit CONV MESSAGE_ID TEXT
func cmdEdit(e *env, args []string) error {
	fs := flag.NewFlagSet("edit", flag.ContinueOnError)
	pos, err := parse(fs, args, 3, 3, "CONV MESSAGE_ID TEXT")
	if err != nil {
		return err
	}
	return e.act(pos[0], func(c *client.Client, conv string) (string, error) {
		return "Edited (everyone sees it marked edited).", c.Edit(conv, strings.ToLower(pos[1]), pos[2])
	})
}

// cmdUnsend: sky unsend CONV MESSAGE_ID — delete for everyone.
func cmdUnsend(e *env, args []string) error {
	fs := flag.NewFlagSet("unsend", flag.ContinueOnError)
	pos, err := parse(fs, args, 2, 2, "CONV MESSAGE_ID")
	if err != nil {
		return err
	}
	return e.act(pos[0], func(c *client.Client, conv string) (string, error) {
		return "Deleted for everyone: gone here, and from each recipient's device when it arrives.", c.DeleteForEveryone(conv, strings.ToLower(pos[1]))
	})
}

// act runs an action, sends it and prints what it did.
func (e *env) act(conv string, fn func(c *client.Client, conv string) (string, error)) error {
	return withClient(e, func(c *client.Client) error {
		done, err := fn(c, conversationArg(c, conv))
		if err != nil {
			return err
		}
		stop := e.online(c)
		defer stop()
		if err := e.flush(c); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, done)
		return nil
	})
}

// cmdSearch: sky search TEXT [--with CONV] [--json]
func cmdSearch(e *env, args []string) error {
	fs := flag.NewFlagSet("search", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	with := fs.String("with", "", "")
	pos, err := parse(fs, args, 1, 1, "TEXT [--with CONV]")
	if err != nil {
		return err
	}
	return withClient(e, func(c *client.Client) error {
		conv := ""
		if *with != "" {
			conv = conversationArg(c, *with)
		}
		ms, err := c.Search(pos[0], conv)
		if err != nil {
			return err
		}
		n := contactNames(c)
		for _, m := range ms {
			if *asJSON {
				if err := writeJSON(e.stdout, toJSON(m)); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(e.stdout, "%s  %s\n", m.ID, humanLine(m, c.ID(), n))
			}
		}
		if len(ms) == 0 && !*asJSON {
			fmt.Fprintln(e.stderr, "sky: no message found")
		}
		return nil
	})
}

func rpcActionConv(p params) string {
	if p.Group != "" {
		return p.Group
	}
	return p.To
}

func rpcReply(d *daemon, _ context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
	m, err := d.c.Reply(rpcActionConv(p), p.Message, p.Text)
	if err != nil {
		return nil, rpcFail(err)
	}
	return toJSON(m), nil
}

func rpcReact(d *daemon, _ context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
	return nil, rpcFail(d.c.React(rpcActionConv(p), p.Message, p.Emoji))
}

func rpcEdit(d *daemon, _ context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
	return nil, rpcFail(d.c.Edit(rpcActionConv(p), p.Message, p.Text))
}

func rpcUnsend(d *daemon, _ context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
	return nil, rpcFail(d.c.DeleteForEveryone(rpcActionConv(p), p.Message))
}

func rpcSearch(d *daemon, _ context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
	ms, err := d.c.Search(p.Text, rpcActionConv(p))
	out := []jsonMessage{}
	for _, m := range ms {
		out = append(out, toJSON(m))
	}
	return out, rpcFail(err)
}
