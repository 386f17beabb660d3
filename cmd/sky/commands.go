package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/skymsg/sky/client"
)

func cmdInit(e *env, args []string) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	server := fs.String("server", "", "")
	code := fs.String("code", "", "")
	asJSON := fs.Bool("json", false, "")
	wipeAfter := fs.Int("wipe-after", 0, "")
	if _, err := parse(fs, args, 0, 0, "--server URL --code CODE"); err != nil {
		return err
	}
	if *server == "" || *code == "" {
		return usageError("init needs --server URL and --code CODE (the activation code from your server's operator)")
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
	if opts.KDF.Time != 0 {
		fmt.Fprintln(e.stderr, "sky: warning: SKY_INSECURE_TEST_KDF makes this store easy to crack; it is for tests only")
	}
	ctx, cancel := context.WithTimeout(e.ctx, 2*connectTimeout)
	defer cancel()
	c, err := client.Register(ctx, storeDir(e.home), pass, *server, *code, opts)
	if err != nil {
		return fmt.Errorf("creating the account failed: %w", err)
	}
	defer c.Close()
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
	defer c.Close()
	fmt.Fprintln(e.stdout, c.ID())
	if *qr {
		return renderQR(e.stdout, []byte(c.ContactURI()))
	}
	return nil
}

func cmdSend(e *env, args []string) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	pos, err := parse(fs, args, 2, 2, "ID TEXT (or ID - to read the text from stdin)")
	if err != nil {
		return err
	}
	to, text := strings.ToLower(pos[0]), pos[1]
	if !client.ValidID(to) {
		return client.ErrInvalidID
	}
	if text == "-" {
		b, err := io.ReadAll(io.LimitReader(e.stdin, 1<<20))
		if err != nil {
			return fmt.Errorf("reading the text from stdin failed: %w", err)
		}
		text = strings.TrimSuffix(string(b), "\n")
	}
	if strings.TrimSpace(text) == "" {
		return errors.New("the message is empty; give some text")
	}
	c, err := e.open()
	if err != nil {
		return err
	}
	defer c.Close()
	m, err := c.Send(to, text)
	if err != nil {
		return fmt.Errorf("cannot send to %s: %w", to, err)
	}
	stop := e.online(c)
	defer stop()
	if err := e.flush(c); err != nil {
		return fmt.Errorf("cannot send to %s: %w", to, err)
	}
	if h, err := c.History(to, 0); err == nil {
		for _, x := range h {
			if x.ID == m.ID {
				m = x
			}
		}
	}
	if *asJSON {
		return writeJSON(e.stdout, toJSON(m))
	}
	fmt.Fprintf(e.stdout, "%s %s\n", m.ID, m.State)
	return nil
}

func cmdReceive(e *env, args []string) error {
	fs := flag.NewFlagSet("receive", flag.ContinueOnError)
	follow := fs.Bool("follow", false, "")
	timeout := fs.Duration("timeout", 5*time.Second, "")
	asJSON := fs.Bool("json", false, "")
	if _, err := parse(fs, args, 0, 0, "no arguments"); err != nil {
		return err
	}
	c, err := e.open()
	if err != nil {
		return err
	}
	defer c.Close()
	sub := c.Subscribe()
	defer sub.Close()
	// What is stored already is shown even when the server is unreachable.
	p := &printer{e: e, c: c, json: *asJSON, shown: map[int64]bool{}}
	if err := p.unread(); err != nil {
		return err
	}
	stop, err := e.connect(c)
	if err != nil {
		return err
	}
	defer stop()
	if err := p.unread(); err != nil { // what arrived while connecting
		return err
	}
	idle := time.NewTimer(*timeout)
	defer idle.Stop()
	for {
		var deadline <-chan time.Time
		if !*follow {
			deadline = idle.C
		}
		select {
		case <-e.ctx.Done():
			return p.finish()
		case <-deadline:
			return p.finish()
		case ev, ok := <-sub.Events():
			if !ok {
				return p.finish()
			}
			shown, err := p.event(ev)
			if err != nil {
				return err
			}
			if shown {
				idle.Reset(*timeout)
			}
		}
	}
}

// printer prints messages and events for receive, each message once.
type printer struct {
	e     *env
	c     *client.Client
	json  bool
	shown map[int64]bool
}

// unread prints what arrived before (for example while the daemon was
// not running, or what an earlier run stored but did not print).
func (p *printer) unread() error {
	ms, err := p.c.Unread()
	if err != nil {
		return err
	}
	return p.messages(ms)
}

// messages marks messages read and prints them.
func (p *printer) messages(ms []client.Message) error {
	var ids []int64
	for _, m := range ms {
		if !p.shown[m.LocalID] {
			ids = append(ids, m.LocalID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	read, err := p.c.MarkRead(ids...)
	if err != nil {
		return err
	}
	for _, m := range read {
		p.shown[m.LocalID] = true
		if p.json {
			if err := writeJSON(p.e.stdout, toJSON(m)); err != nil {
				return err
			}
		} else {
			human(p.e.stdout, m)
		}
	}
	return nil
}

func (p *printer) event(ev client.Event) (bool, error) {
	switch e := ev.(type) {
	case *client.MessageEvent:
		// Events come in each sender's order.
		return true, p.messages([]client.Message{e.Message})
	case *client.LaggedEvent:
		return false, p.unread()
	case *client.ReceiptEvent:
		return false, p.note(map[string]any{"type": "receipt", "conversation": e.Conversation, "ids": e.MessageIDs, "state": e.State.String()},
			"%s: %d message(s) %s", e.Conversation, len(e.MessageIDs), e.State)
	case *client.IdentityChangedEvent:
		return false, p.note(map[string]any{"type": "identity_changed", "peer": e.Peer, "verified": e.Verified},
			"%s", (&client.IdentityChangedError{Peer: e.Peer, Verified: e.Verified}).Error())
	case *client.TimerEvent:
		who := e.By
		if e.By == p.c.ID() {
			who = "you"
		}
		return false, p.note(map[string]any{"type": "timer", "conversation": e.Conversation, "timer": int64(e.Timer / time.Second), "by": e.By},
			"%s set disappearing messages in the conversation with %s to %s", who, e.Conversation, formatTimer(e.Timer))
	case *client.GapEvent:
		return false, p.note(map[string]any{"type": "gap", "peer": e.Peer, "missing": e.Missing},
			"%d message(s) from %s never arrived", e.Missing, e.Peer)
	case *client.FailedEvent:
		return false, p.note(map[string]any{"type": "failed", "conversation": e.Conversation, "id": e.MessageID, "error": e.Err.Error()},
			"message %s to %s failed: %v", e.MessageID, e.Conversation, e.Err)
	case *client.DroppedEvent:
		return false, p.note(map[string]any{"type": "dropped", "from": e.From, "reason": e.Reason},
			"dropped a message (claimed sender %q): %s", e.From, e.Reason)
	}
	return false, nil
}

// note prints an event: a JSON object with --json, else a line on stderr.
func (p *printer) note(obj map[string]any, format string, args ...any) error {
	if p.json {
		return writeJSON(p.e.stdout, obj)
	}
	fmt.Fprintf(p.e.stderr, "sky: "+format+"\n", args...)
	return nil
}

// finish gives queued receipts a moment to go out.
func (p *printer) finish() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	p.c.Flush(ctx)
	return nil
}

func cmdHistory(e *env, args []string) error {
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	limit := fs.Int("limit", 0, "")
	pos, err := parse(fs, args, 1, 1, "ID")
	if err != nil {
		return err
	}
	peer := strings.ToLower(pos[0])
	if !client.ValidID(peer) {
		return client.ErrInvalidID
	}
	c, err := e.open()
	if err != nil {
		return err
	}
	defer c.Close()
	ms, err := c.History(peer, *limit)
	if err != nil {
		return err
	}
	// Showing a conversation reads it.
	var unread []int64
	for _, m := range ms {
		if !m.Outgoing && m.State == client.Received {
			unread = append(unread, m.LocalID)
		}
	}
	if len(unread) > 0 {
		read, err := c.MarkRead(unread...)
		if err != nil {
			return err
		}
		byID := map[int64]client.Message{}
		for _, m := range read {
			byID[m.LocalID] = m
		}
		for i, m := range ms {
			if r, ok := byID[m.LocalID]; ok {
				ms[i] = r
			}
		}
		stop := e.online(c) // read receipts
		defer stop()
		ctx, cancel := context.WithTimeout(e.ctx, 3*time.Second)
		defer cancel()
		c.Flush(ctx)
	}
	for _, m := range ms {
		if *asJSON {
			if err := writeJSON(e.stdout, toJSON(m)); err != nil {
				return err
			}
		} else {
			human(e.stdout, m)
		}
	}
	return nil
}

func cmdContacts(e *env, args []string) error {
	if len(args) == 0 {
		return usageError("contacts expects add ID [--name N], list or remove ID")
	}
	switch args[0] {
	case "add":
		fs := flag.NewFlagSet("contacts add", flag.ContinueOnError)
		name := fs.String("name", "", "")
		pos, err := parse(fs, args[1:], 1, 1, "ID [--name NAME]")
		if err != nil {
			return err
		}
		return withClient(e, func(c *client.Client) error { return c.AddContact(strings.ToLower(pos[0]), *name) })
	case "remove":
		pos, err := parse(flag.NewFlagSet("contacts remove", flag.ContinueOnError), args[1:], 1, 1, "ID")
		if err != nil {
			return err
		}
		return withClient(e, func(c *client.Client) error { return c.RemoveContact(strings.ToLower(pos[0])) })
	case "list":
		fs := flag.NewFlagSet("contacts list", flag.ContinueOnError)
		asJSON := fs.Bool("json", false, "")
		if _, err := parse(fs, args[1:], 0, 0, "no arguments"); err != nil {
			return err
		}
		return withClient(e, func(c *client.Client) error {
			cs, err := c.Contacts()
			if err != nil {
				return err
			}
			for _, ct := range cs {
				if *asJSON {
					if err := writeJSON(e.stdout, map[string]any{"id": ct.ID, "name": ct.Name, "verified": ct.Verified, "added_at": ct.AddedAt.UTC()}); err != nil {
						return err
					}
					continue
				}
				v := ""
				if ct.Verified {
					v = " (verified)"
				}
				fmt.Fprintf(e.stdout, "%s %s%s\n", ct.ID, ct.Name, v)
			}
			return nil
		})
	}
	return usageError("contacts expects add, list or remove, not %q", args[0])
}

func withClient(e *env, fn func(c *client.Client) error) error {
	c, err := e.open()
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c)
}

func cmdRequests(e *env, args []string) error {
	if len(args) == 0 {
		return usageError("requests expects list, accept ID or reject ID")
	}
	switch args[0] {
	case "list":
		fs := flag.NewFlagSet("requests list", flag.ContinueOnError)
		asJSON := fs.Bool("json", false, "")
		if _, err := parse(fs, args[1:], 0, 0, "no arguments"); err != nil {
			return err
		}
		return withClient(e, func(c *client.Client) error {
			rs, err := c.Requests()
			if err != nil {
				return err
			}
			for _, r := range rs {
				if *asJSON {
					if err := writeJSON(e.stdout, map[string]any{"id": r.ID, "first_at": r.FirstAt.UTC(), "messages": r.Messages}); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintf(e.stdout, "%s %d message(s) since %s\n", r.ID, r.Messages, r.FirstAt.Local().Format("2006-01-02 15:04"))
			}
			return nil
		})
	case "accept", "reject":
		pos, err := parse(flag.NewFlagSet("requests "+args[0], flag.ContinueOnError), args[1:], 1, 1, "ID")
		if err != nil {
			return err
		}
		id := strings.ToLower(pos[0])
		return withClient(e, func(c *client.Client) error {
			if args[0] == "accept" {
				return c.Accept(id)
			}
			return c.Reject(id)
		})
	}
	return usageError("requests expects list, accept or reject, not %q", args[0])
}

func cmdVerify(e *env, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	qr := fs.Bool("qr", false, "")
	confirm := fs.Bool("confirm", false, "")
	keep := fs.Bool("keep-old", false, "")
	pos, err := parse(fs, args, 1, 1, "ID [--qr] [--confirm | --keep-old]")
	if err != nil {
		return err
	}
	peer := strings.ToLower(pos[0])
	return withClient(e, func(c *client.Client) error {
		sn, err := c.SafetyNumber(peer)
		if err != nil {
			return err
		}
		if sn.Changed {
			fmt.Fprintf(e.stdout, "WARNING: %s presented a NEW identity key. Nothing is sent to them until you decide:\n"+
				"compare the number below with theirs in person; if it matches run sky verify %s --confirm, if not run sky verify %s --keep-old.\n", peer, peer, peer)
		}
		fmt.Fprintf(e.stdout, "Safety number with %s:\n", peer)
		g := sn.Groups()
		for i := 0; i < len(g); i += 4 {
			fmt.Fprintf(e.stdout, "  %s\n", strings.Join(g[i:min(i+4, len(g))], " "))
		}
		if *qr {
			if err := renderQR(e.stdout, sn.Scannable); err != nil {
				return err
			}
		}
		switch {
		case *confirm && *keep:
			return usageError("verify takes --confirm or --keep-old, not both")
		case *keep:
			if err := c.KeepIdentity(peer); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Refused the new key; %s keeps the key you had.\n", peer)
		case *confirm:
			if err := c.Verify(e.ctx, peer); err != nil {
				return err
			}
			if sn.Changed {
				fmt.Fprintf(e.stdout, "Accepted the new key of %s and marked it verified.\n", peer)
			} else {
				fmt.Fprintf(e.stdout, "Marked %s as verified.\n", peer)
			}
		case sn.Verified:
			fmt.Fprintf(e.stdout, "%s is verified.\n", peer)
		default:
			fmt.Fprintf(e.stdout, "Compare these digits with %s in person (or scan their code); if they match, run: sky verify %s --confirm\n", peer, peer)
		}
		return nil
	})
}

func cmdTimer(e *env, args []string) error {
	fs := flag.NewFlagSet("timer", flag.ContinueOnError)
	def := fs.Bool("default", false, "")
	pos, err := parse(fs, args, 0, 2, "ID [DURATION|off], or --default [DURATION|off]")
	if err != nil {
		return err
	}
	if *def {
		if len(pos) > 1 {
			return usageError("timer --default takes one DURATION or off")
		}
		return withClient(e, func(c *client.Client) error {
			if len(pos) == 0 {
				d, err := c.DefaultTimer()
				if err == nil {
					fmt.Fprintln(e.stdout, formatTimer(d))
				}
				return err
			}
			d, err := parseTimer(pos[0])
			if err != nil {
				return err
			}
			return c.SetDefaultTimer(d)
		})
	}
	if len(pos) == 0 {
		return usageError("timer expects ID [DURATION|off], or --default [DURATION|off]")
	}
	peer := strings.ToLower(pos[0])
	return withClient(e, func(c *client.Client) error {
		if len(pos) == 1 {
			d, err := c.Timer(peer)
			if err == nil {
				fmt.Fprintln(e.stdout, formatTimer(d))
			}
			return err
		}
		d, err := parseTimer(pos[1])
		if err != nil {
			return err
		}
		if err := c.SetTimer(peer, d); err != nil {
			return err
		}
		stop := e.online(c)
		defer stop()
		return e.flush(c)
	})
}

func cmdPanic(e *env, args []string) error {
	if len(args) == 0 {
		return usageError("panic expects set [--delete-account], clear, status or wipe-after N")
	}
	switch args[0] {
	case "set":
		fs := flag.NewFlagSet("panic set", flag.ContinueOnError)
		del := fs.Bool("delete-account", false, "")
		if _, err := parse(fs, args[1:], 0, 0, "[--delete-account]"); err != nil {
			return err
		}
		return withClient(e, func(c *client.Client) error {
			p, err := e.panicPassphrase()
			if err != nil {
				return err
			}
			if err := c.SetPanic(p, *del); err != nil {
				return err
			}
			what := "erases this account's data on this device"
			if *del {
				what += " and deletes the account on the server"
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
			if n := c.MaxFailedUnlocks(); n > 0 {
				fmt.Fprintf(e.stdout, "%d failed unlocks in a row erase everything\n", n)
			}
			switch {
			case !set:
				fmt.Fprintln(e.stdout, "no panic passphrase")
			case del:
				fmt.Fprintln(e.stdout, "panic passphrase set; it also deletes the server account")
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
