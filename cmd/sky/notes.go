package main

// Notes to self: the encrypted notes vault (package client/notes).

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/client/notes"
)

func cmdNotes(e *env, args []string) error {
	if len(args) == 0 {
		return usageError("notes expects add, list, show, edit or rm")
	}
	switch args[0] {
	case "add":
		fs := flag.NewFlagSet("notes add", flag.ContinueOnError)
		timer := fs.String("timer", "off", "")
		pos, err := parse(fs, args[1:], 1, 2, "TITLE [TEXT|-] [--timer DURATION]")
		if err != nil {
			return err
		}
		d, err := parseTimer(*timer)
		if err != nil {
			return usageError("notes add: %v", err)
		}
		text := ""
		if len(pos) == 2 {
			if text, err = e.noteText(pos[1]); err != nil {
				return err
			}
		}
		return withClient(e, func(c *client.Client) error {
			n, err := c.Notes().Add(pos[0], text, d)
			if err == nil {
				fmt.Fprintln(e.stdout, n.ID)
			}
			return err
		})
	case "list":
		fs := flag.NewFlagSet("notes list", flag.ContinueOnError)
		asJSON := fs.Bool("json", false, "")
		if _, err := parse(fs, args[1:], 0, 0, "no arguments"); err != nil {
			return err
		}
		return withClient(e, func(c *client.Client) error {
			ns, err := c.Notes().List()
			for _, n := range ns {
				if *asJSON {
					if err := writeJSON(e.stdout, noteJSON(n)); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintf(e.stdout, "%s %s %s%s\n", n.ID, n.Updated.Local().Format("2006-01-02 15:04"), oneLine(n.Title), noteExpiry(n))
			}
			return err
		})
	case "show":
		fs := flag.NewFlagSet("notes show", flag.ContinueOnError)
		asJSON := fs.Bool("json", false, "")
		pos, err := parse(fs, args[1:], 1, 1, "ID [--json]")
		if err != nil {
			return err
		}
		return withClient(e, func(c *client.Client) error {
			n, err := c.Notes().Get(strings.ToLower(pos[0]))
			if err != nil {
				return err
			}
			if *asJSON {
				return writeJSON(e.stdout, noteJSON(n))
			}
			fmt.Fprintf(e.stdout, "%s%s\n\n%s\n", oneLine(n.Title), noteExpiry(n), n.Text)
			return nil
		})
	case "edit":
		fs := flag.NewFlagSet("notes edit", flag.ContinueOnError)
		title := fs.String("title", "", "")
		text := fs.String("text", "", "")
		timer := fs.String("timer", "", "")
		pos, err := parse(fs, args[1:], 1, 1, "ID [--title T] [--text T|-] [--timer DURATION|off]")
		if err != nil {
			return err
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		return withClient(e, func(c *client.Client) error {
			v := c.Notes()
			n, err := v.Get(strings.ToLower(pos[0]))
			if err != nil {
				return err
			}
			if set["title"] {
				n.Title = *title
			}
			if set["text"] {
				if n.Text, err = e.noteText(*text); err != nil {
					return err
				}
			}
			if set["timer"] {
				if n.Timer, err = parseTimer(*timer); err != nil {
					return usageError("notes edit: %v", err)
				}
			}
			_, err = v.Edit(n.ID, n.Title, n.Text, n.Timer)
			return err
		})
	case "rm":
		pos, err := parse(flag.NewFlagSet("notes rm", flag.ContinueOnError), args[1:], 1, 1, "ID")
		if err != nil {
			return err
		}
		return withClient(e, func(c *client.Client) error { return c.Notes().Delete(strings.ToLower(pos[0])) })
	}
	return usageError("notes expects add, list, show, edit or rm, not %q", args[0])
}

// noteText is a note's text: the argument, or stdin for "-". Unlike a
// message, a note may be empty.
func (e *env) noteText(arg string) (string, error) {
	if arg != "-" {
		return arg, nil
	}
	b, err := io.ReadAll(io.LimitReader(e.stdin, notes.MaxTextBytes+1))
	if err != nil {
		return "", fmt.Errorf("reading the note from stdin failed: %w", err)
	}
	return strings.TrimSuffix(string(b), "\n"), nil
}

func noteExpiry(n notes.Note) string {
	if n.ExpiresAt.IsZero() {
		return ""
	}
	return fmt.Sprintf(" (disappears %s)", n.ExpiresAt.Local().Format("2006-01-02 15:04"))
}

func noteJSON(n notes.Note) map[string]any {
	out := map[string]any{"id": n.ID, "title": n.Title, "text": n.Text, "created": n.Created.UTC(), "updated": n.Updated.UTC(),
		"timer": formatTimer(n.Timer)}
	if !n.ExpiresAt.IsZero() {
		out["expires_at"] = n.ExpiresAt.UTC().Truncate(time.Second)
	}
	return out
}
