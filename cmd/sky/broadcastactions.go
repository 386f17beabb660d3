package main

// Edits and deletions for everyone of a broadcast (client.EditBroadcast,
// client.UnsendBroadcast): every copy at once, named by any copy's ID.

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/skymsg/sky/client"
)

// cmdBroadcastAction: sky broadcast edit NAME MSG TEXT | unsend NAME MSG
func cmdBroadcastAction(e *env, sub string, fs *flag.FlagSet, rest []string) error {
	n, what := 3, "NAME MESSAGE_ID TEXT (the ID of any copy, as broadcast send prints them)"
	if sub == "unsend" {
		n, what = 2, "NAME MESSAGE_ID (the ID of any copy, as broadcast send prints them)"
	}
	pos, err := parse(fs, rest, n, n, what)
	if err != nil {
		return err
	}
	return withClient(e, func(c *client.Client) error {
		id := strings.ToLower(pos[1])
		if sub == "unsend" {
			err = c.UnsendBroadcast(pos[0], id)
		} else {
			err = c.EditBroadcast(pos[0], id, pos[2])
		}
		if err != nil {
			return err
		}
		stop := e.online(c)
		defer stop()
		if err := e.flush(c); err != nil {
			return err
		}
		if sub == "unsend" {
			fmt.Fprintln(e.stdout, "Deleted for everyone: every copy of the broadcast.")
		} else {
			fmt.Fprintln(e.stdout, "Edited every copy of the broadcast (everyone sees it marked edited).")
		}
		return nil
	})
}

// rpcBroadcastSend: broadcast.send, a text or files to a broadcast list.
// When some recipients were left out (a key change waiting), the answer is
// an error that says how many copies were queued and names the others.
func rpcBroadcastSend(d *daemon, ctx context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
	if p.Name == "" {
		return nil, &rpcError{rpcInvalidParams, "name (the broadcast list) is required"}
	}
	var ms []client.Message
	var err error
	if len(p.Files) > 0 {
		for _, f := range p.Files {
			if !filepath.IsAbs(f) {
				return nil, &rpcError{rpcInvalidParams, fmt.Sprintf("file %q must be an absolute path (the daemon's working directory is its own)", f)}
			}
		}
		ms, _, err = d.c.BroadcastFiles(ctx, p.Name, p.Text, p.Files, nil)
	} else {
		if p.Text == "" {
			return nil, &rpcError{rpcInvalidParams, "text is required without files"}
		}
		ms, err = d.c.Broadcast(p.Name, p.Text)
	}
	if err != nil && len(ms) > 0 {
		err = fmt.Errorf("queued for %d recipient(s), not for the others: %w", len(ms), err)
	}
	if err != nil {
		return nil, rpcFail(err)
	}
	out := make([]any, 0, len(ms))
	for _, m := range ms {
		out = append(out, toJSON(m))
	}
	return out, nil
}

func rpcBroadcastEdit(d *daemon, _ context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
	return nil, rpcFail(d.c.EditBroadcast(p.Name, strings.ToLower(p.Message), p.Text))
}

func rpcBroadcastUnsend(d *daemon, _ context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
	return nil, rpcFail(d.c.UnsendBroadcast(p.Name, strings.ToLower(p.Message)))
}
