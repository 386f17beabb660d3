package main

// Attachments: sending files with a message, naming them in what is
// printed, and saving them (sky save).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/client/attach"
	"github.com/skymsg/sky/ui/safetext"
)

// fileList is a repeatable --file flag.
type fileList []string

func (f *fileList) String() string     { return strings.Join(*f, ",") }
func (f *fileList) Set(v string) error { *f = append(*f, v); return nil }

// sendWith picks between a text and files: with --file given, TEXT is an
// optional caption; without, it is required.
func sendWith(fs *flag.FlagSet, args []string, what string) (pos []string, files fileList, err error) {
	fs.Var(&files, "file", "")
	if pos, err = parse(fs, args, 1, 2, what); err != nil {
		return nil, nil, err
	}
	if len(files) == 0 && len(pos) < 2 {
		return nil, nil, usageError("%s expects %s", fs.Name(), what)
	}
	return pos, files, nil
}

// sendFiles sends files (with an optional caption) from the command line:
// it goes online, uploads each file once, queues the message(s) with
// queue, and waits for the outbox as sendText does. Files Sky sends as
// they are (documents, and photo types whose metadata it cannot remove)
// are named on stderr.
func (e *env) sendFiles(to string, pos []string, files []string, asJSON, withConversation bool,
	queue func(c *client.Client, text string, progress attach.FileProgress) ([]client.Message, []*attach.Prepared, error)) error {
	text := ""
	if len(pos) > 1 {
		var err error
		if text, err = e.text(pos[1]); err != nil {
			return err
		}
	}
	c, err := e.open()
	if err != nil {
		return err
	}
	defer e.release(c)
	stop := e.online(c)
	defer stop()
	ms, preps, err := queue(c, text, e.progress())
	if err != nil {
		return fmt.Errorf("cannot send to %s: %w", to, err)
	}
	for _, p := range preps {
		if p.AsIs {
			fmt.Fprintf(e.stderr, "sky: %s (%s) was sent as it is: Sky removes metadata only from JPEG, PNG, WebP and HEIC photos\n", safetext.Line(p.Pointer.Name), p.Pointer.Type)
		} else if len(p.Removed) > 0 {
			fmt.Fprintf(e.stderr, "sky: removed from %s: %s\n", safetext.Line(p.Pointer.Name), strings.Join(p.Removed, ", "))
		}
	}
	if err := e.flush(c); err != nil {
		return fmt.Errorf("cannot send to %s: %w", to, err)
	}
	for _, m := range ms {
		m = latest(c, m)
		if asJSON {
			if err := writeJSON(e.stdout, toJSON(m)); err != nil {
				return err
			}
			continue
		}
		if withConversation {
			fmt.Fprintf(e.stdout, "%s ", m.Conversation)
		}
		fmt.Fprintf(e.stdout, "%s %s\n", m.ID, m.State)
	}
	return nil
}

// progress reports transfers over 1 MiB on stderr, when it is a terminal.
func (e *env) progress() attach.FileProgress {
	f, ok := e.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func(name string, done, total int64) {
		if total <= 1<<20 {
			return
		}
		fmt.Fprintf(f, "\r%s: %3d%% of %.1f MiB", safetext.Line(name), done*100/total, float64(total)/(1<<20))
		if done == total {
			fmt.Fprintln(f)
		}
	}
}

func cmdSave(e *env, args []string) error {
	fs := flag.NewFlagSet("save", flag.ContinueOnError)
	out := fs.String("out", "", "")
	force := fs.Bool("force", false, "")
	pos, err := parse(fs, args, 1, 1, "ATTACHMENT_ID [--out PATH] [--force]")
	if err != nil {
		return err
	}
	return withClient(e, func(c *client.Client) error {
		path, err := c.SaveAttachment(e.ctx, pos[0], *out, *force, e.progress())
		if errors.Is(err, attach.ErrExists) {
			return fmt.Errorf("%w (pass --force, or --out another path)", err)
		}
		if err != nil {
			return fmt.Errorf("cannot save attachment %s: %w", pos[0], err)
		}
		fmt.Fprintln(e.stdout, path)
		return nil
	})
}

// jsonAttachment is an attachment in --json output.
type jsonAttachment struct {
	ID       string `json:"id"`   // for sky save
	Name     string `json:"name"` // as the sender named it
	Type     string `json:"type"` // MIME type
	Size     int64  `json:"size"` // bytes, unpadded
	Width    int    `json:"width,omitempty"`
	Height   int    `json:"height,omitempty"`
	Duration int64  `json:"duration_ms,omitempty"`
}

func attachmentsJSON(m client.Message) []jsonAttachment {
	var out []jsonAttachment
	for _, a := range m.Attachments {
		out = append(out, jsonAttachment{ID: a.ID, Name: a.Name, Type: a.Type, Size: a.Size, Width: a.Width, Height: a.Height, Duration: a.Duration.Milliseconds()})
	}
	return out
}

// attachmentsText names a message's attachments for a person, after its
// text: each with the ID sky save takes.
func attachmentsText(m client.Message) string {
	var b strings.Builder
	for _, a := range m.Attachments {
		dur := ""
		if a.Duration > 0 {
			dur = ", " + playingTime(a.Duration)
		}
		fmt.Fprintf(&b, " [attachment %s: %s, %s, %s%s]", a.ID, safetext.Line(a.Name), safetext.Line(a.Type), size(a.Size), dur)
	}
	return b.String()
}

// playingTime writes a recording's length as m:ss (h:mm:ss from an hour).
func playingTime(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// absFileArgs makes the paths of --file, --out and --avatar absolute, and gives
// save an --out of the current directory, before a command goes to a
// daemon whose working directory is another.
func absFileArgs(args []string) []string {
	pathFlag := func(f string) bool {
		f = strings.TrimLeft(f, "-")
		return f == "file" || f == "out" || f == "avatar"
	}
	out := make([]string, 0, len(args)+2)
	hasOut := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, eq := strings.Cut(a, "=")
		flagged := strings.HasPrefix(a, "-") && pathFlag(name)
		hasOut = hasOut || flagged && strings.TrimLeft(name, "-") == "out"
		switch {
		case flagged && eq:
			a = name + "=" + abs(val)
		case flagged && i+1 < len(args):
			out = append(out, a)
			i++
			a = abs(args[i])
		}
		out = append(out, a)
	}
	if len(args) > 0 && args[0] == "save" && !hasOut {
		if wd, err := os.Getwd(); err == nil {
			out = append(out, "--out", wd)
		}
	}
	return out
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// The daemon's attachment methods (rpcmethods.go).

func rpcSendFiles(d *daemon, ctx context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
	m, _, err := d.c.SendFiles(ctx, p.To, p.Text, p.Files, nil)
	if err != nil {
		return nil, rpcFail(err)
	}
	return toJSON(m), nil
}

func rpcGroupSendFiles(d *daemon, ctx context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
	m, _, err := d.c.SendGroupFiles(ctx, p.Group, p.Text, p.Files, nil)
	if err != nil {
		return nil, rpcFail(err)
	}
	return toJSON(m), nil
}

func rpcSaveAttachment(d *daemon, ctx context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
	if p.Out == "" || !filepath.IsAbs(p.Out) {
		return nil, &rpcError{rpcInvalidParams, "out must be an absolute path (a file, or a directory for the sender's file name)"}
	}
	path, err := d.c.SaveAttachment(ctx, p.ID, p.Out, p.Force, nil)
	if err != nil {
		return nil, rpcFail(err)
	}
	return map[string]string{"path": path}, nil
}

// cmdAutoDownload shows or sets the size up to which the attachments of
// received messages download by themselves.
func cmdAutoDownload(e *env, args []string) error {
	pos, err := parse(flag.NewFlagSet("auto-download", flag.ContinueOnError), args, 0, 1, "[SIZE|off] (e.g. 25MiB, 500KiB, 0)")
	if err != nil {
		return err
	}
	var n int64 = -1
	if len(pos) == 1 {
		if n, err = parseSize(pos[0]); err != nil {
			return err
		}
	}
	return withClient(e, func(c *client.Client) error {
		if n >= 0 {
			if err := c.SetAutoDownload(n); err != nil {
				return err
			}
		}
		limit, err := c.AutoDownload()
		if err != nil {
			return err
		}
		if limit == 0 {
			fmt.Fprintln(e.stdout, "No file downloads by itself: save each (sky save ID) before the server deletes it with its message's time on the server (48 hours by default).")
		} else {
			fmt.Fprintf(e.stdout, "Received files up to %s download by themselves as they arrive; larger ones wait for sky save, which works while the server keeps them (48 hours by default).\n", size(limit))
		}
		return nil
	})
}

// parseSize reads a size: bytes, or a number with KiB, MiB, GiB (or KB,
// MB, GB, also powers of 1024 here); "off" is 0.
func parseSize(s string) (int64, error) {
	if s == "off" {
		return 0, nil
	}
	num := strings.TrimRightFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	unit := map[string]int64{"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "KiB": 1 << 10, "M": 1 << 20, "MB": 1 << 20, "MiB": 1 << 20, "G": 1 << 30, "GB": 1 << 30, "GiB": 1 << 30}[s[len(num):]]
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || unit == 0 || v < 0 || v > 1<<40/unit {
		return 0, usageError("auto-download takes a size such as 25MiB, 500KiB or 0 (or off), not %q", s)
	}
	return v * unit, nil
}

func rpcAutoDownload(d *daemon, _ context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
	if p.Size != nil {
		if err := d.c.SetAutoDownload(*p.Size); err != nil {
			return nil, &rpcError{rpcInvalidParams, err.Error()}
		}
	}
	n, err := d.c.AutoDownload()
	if err != nil {
		return nil, rpcFail(err)
	}
	return map[string]int64{"size": n}, nil
}
