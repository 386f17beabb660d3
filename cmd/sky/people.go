package main

// People: contacts, message requests, verification and conversation timers.

import (
	"flag"
	"fmt"
	"strings"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/ui/safetext"
)

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
		return withClient(e, func(c *client.Client) error {
			id, err := resolveID(c, pos[0])
			if err != nil {
				return err
			}
			if err := c.AddContact(id, *name); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Added %s to your contacts.\n", contactNames(c).label(id))
			return nil
		})
	case "remove":
		pos, err := parse(flag.NewFlagSet("contacts remove", flag.ContinueOnError), args[1:], 1, 1, "ID")
		if err != nil {
			return err
		}
		return withClient(e, func(c *client.Client) error {
			id, err := resolveID(c, pos[0])
			if err != nil {
				return err
			}
			label := contactNames(c).label(id)
			if err := c.RemoveContact(id); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Removed %s from your contacts.\n", label)
			return nil
		})
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
			names, err := c.Names()
			if err != nil {
				return err
			}
			for _, ct := range cs {
				if *asJSON {
					if err := writeJSON(e.stdout, contactJSON(ct, names[ct.ID])); err != nil {
						return err
					}
					continue
				}
				v := ""
				if ct.Verified {
					v = " (verified)"
				}
				// The nickname the user gave, else the profile's name
				// marked "~" as the contact's own claim.
				fmt.Fprintf(e.stdout, "%s %s%s\n", ct.ID, safetext.Line(shownName(names[ct.ID])), v)
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
	defer e.release(c)
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
		return withClient(e, func(c *client.Client) error {
			id, err := resolveID(c, pos[0])
			if err != nil {
				return err
			}
			if args[0] == "accept" {
				if err := c.Accept(id); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Accepted %s: they are a contact now, and their messages are in sky history %s.\n", id, id)
				return nil
			}
			if err := c.Reject(id); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Rejected %s: their request and messages are deleted, and what they send later is dropped unless you add them as a contact.\n", id)
			return nil
		})
	}
	return usageError("requests expects list, accept or reject, not %q", args[0])
}

func cmdVerify(e *env, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	qr := fs.Bool("qr", false, "")
	confirm := fs.Bool("confirm", false, "")
	keep := fs.Bool("keep-old", false, "")
	pos, err := parse(fs, args, 1, 13, "ID [--qr] [--confirm NUMBER | --keep-old]")
	if err != nil {
		return err
	}
	// The number the user compared: --confirm accepts exactly that key,
	// not whatever key is pending by the time this command runs.
	number := strings.Join(pos[1:], "")
	switch {
	case *confirm && *keep:
		return usageError("verify takes --confirm or --keep-old, not both")
	case *confirm && number == "":
		return usageError("verify --confirm needs the safety number you compared: sky verify ID --confirm NUMBER (as sky verify ID shows it)")
	case !*confirm && number != "":
		return usageError("verify takes a safety number only with --confirm")
	}
	return withClient(e, func(c *client.Client) error {
		peer, err := resolveID(c, pos[0])
		if err != nil {
			return err
		}
		sn, err := c.SafetyNumber(peer)
		if err != nil {
			return err
		}
		if *confirm {
			if err := c.Verify(e.ctx, peer, number); err != nil {
				return err
			}
			if sn.Changed {
				fmt.Fprintf(e.stdout, "Accepted the new key of %s and marked it verified.\n", peer)
			} else {
				fmt.Fprintf(e.stdout, "Marked %s as verified.\n", peer)
			}
			return nil
		}
		if sn.Changed {
			fmt.Fprintf(e.stdout, "WARNING: %s presented a NEW identity key. Nothing is sent to them until you decide:\n"+
				"compare the number below with theirs in person; if it matches run the command below, if not run sky verify %s --keep-old.\n", peer, peer)
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
		if kd, err := c.KeyDirectoryStatus(peer); err == nil && kd.Confirmed && !sn.Changed && !*keep {
			by := ""
			if kd.Auditor != "" {
				by = ", countersigned by auditor " + kd.Auditor
			}
			fmt.Fprintf(e.stdout, "%s's key is confirmed by the key directory%s.\n", peer, by)
		}
		switch {
		case *keep:
			if err := c.KeepIdentity(peer); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Refused the new key; %s keeps the key you had.\n", peer)
		case sn.Verified:
			fmt.Fprintf(e.stdout, "%s is verified.\n", peer)
		default:
			fmt.Fprintf(e.stdout, "Compare these digits with %s in person (or scan their code); if they match, run:\n  sky verify %s --confirm %s\n",
				peer, peer, strings.Join(g, " "))
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
			if err := c.SetDefaultTimer(d); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "New conversations now start with disappearing messages %s.\n", timerWords(d))
			return nil
		})
	}
	if len(pos) == 0 {
		return usageError("timer expects ID [DURATION|off], or --default [DURATION|off]")
	}
	return withClient(e, func(c *client.Client) error {
		peer, err := resolveID(c, pos[0])
		if err != nil {
			return err
		}
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
		if err := e.flush(c); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Disappearing messages with %s: %s (both sides are told).\n", contactNames(c).label(peer), timerWords(d))
		return nil
	})
}

// shownName is a contact's name as lists show it: their nickname, their
// profile name after "~" (marked when it equals another's), or nothing.
func shownName(n client.Name) string {
	if n.Nickname == "" && n.Profile == "" {
		return ""
	}
	return n.Display()
}

// contactJSON is a contact as sky's JSON output and the daemon show it.
func contactJSON(ct client.Contact, n client.Name) map[string]any {
	return map[string]any{"id": ct.ID, "name": ct.Name, "verified": ct.Verified, "added_at": ct.AddedAt.UTC(),
		"profile_name": n.Profile, "display": n.Display(), "name_clash": n.Clash}
}

// cmdSendAsRequest sends the messages waiting for a contact whose delivery
// token the server refuses as sealed message requests: the user's choice,
// since it tells the server that they write to that contact.
func cmdSendAsRequest(e *env, args []string) error {
	pos, err := parse(flag.NewFlagSet("send-as-request", flag.ContinueOnError), args, 1, 1, "ID")
	if err != nil {
		return err
	}
	c, err := e.open()
	if err != nil {
		return err
	}
	defer e.release(c)
	peer, err := resolveID(c, pos[0])
	if err != nil {
		return err
	}
	if err := c.SendAsRequest(peer); err != nil {
		return err
	}
	stop := e.online(c)
	defer stop()
	if err := e.flush(c); err != nil {
		return fmt.Errorf("cannot send to %s: %w", peer, err)
	}
	fmt.Fprintf(e.stdout, "The messages waiting for %s go as message requests (the server learns that you write to them).\n", contactNames(c).label(peer))
	return nil
}
