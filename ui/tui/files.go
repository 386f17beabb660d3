package tui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/client/attach"
	"github.com/skymsg/sky/ui/safetext"
)

// Files is what /file and /save need; *client.Client has it. With a
// Backend that lacks it, the chat has no attachments.
type Files interface {
	SendFiles(ctx context.Context, peer, text string, paths []string, progress attach.FileProgress) (client.Message, []*attach.Prepared, error)
	SendGroupFiles(ctx context.Context, ref, text string, paths []string, progress attach.FileProgress) (client.Message, []*attach.Prepared, error)
	SaveAttachment(ctx context.Context, id, out string, force bool, progress attach.FileProgress) (string, error)
}

// fileMsg says a file was sent (or not); savedMsg that an attachment was
// saved (or not).
type (
	fileMsg struct {
		conv  string
		sent  client.Message
		preps []*attach.Prepared
		err   error
	}
	savedMsg struct {
		path string
		err  error
	}
)

// sendFile carries out "/file PATH [CAPTION]": the file is uploaded in the
// background and the message queued once it is.
func (m *Model) sendFile(args []string) tea.Cmd {
	f, ok := m.b.(Files)
	switch {
	case !ok:
		return m.refuse("attachments are not available here")
	case len(args) == 0:
		return m.refuse("/file needs the path of a file: /file PATH [CAPTION]")
	}
	path, caption := expandHome(args[0]), strings.Join(args[1:], " ")
	c, ctx := *m.open, m.ctx()
	m.addNote("uploading "+path+" …", false)
	return func() tea.Msg {
		var sent client.Message
		var preps []*attach.Prepared
		var err error
		if c.kind == kindGroup {
			sent, preps, err = f.SendGroupFiles(ctx, c.id, caption, []string{path}, nil)
		} else {
			sent, preps, err = f.SendFiles(ctx, c.id, caption, []string{path}, nil)
		}
		return fileMsg{conv: c.id, sent: sent, preps: preps, err: err}
	}
}

// fileSent shows the sent file's message and what Sky did to the file.
func (m *Model) fileSent(r fileMsg) tea.Cmd {
	if m.openID() != r.conv {
		if r.err != nil {
			m.status = "a file was not sent: " + r.err.Error()
		}
		return nil
	}
	if r.err != nil {
		m.addNote("not sent: "+r.err.Error(), true)
		return nil
	}
	m.msgs = append(m.msgs, r.sent)
	for _, p := range r.preps {
		name := safetext.Line(p.Pointer.Name)
		switch {
		case p.AsIs:
			m.addNote(name+" went as it is: Sky does not remove metadata from this type of file", true)
		case len(p.Removed) > 0:
			m.addNote("removed "+strings.Join(p.Removed, ", ")+" from "+name, false)
		}
	}
	return m.expiryTick()
}

// saveFile carries out "/save ID [PATH]".
func (m *Model) saveFile(args []string) tea.Cmd {
	f, ok := m.b.(Files)
	switch {
	case !ok:
		return m.refuse("attachments are not available here")
	case len(args) == 0 || len(args) > 2:
		return m.refuse("/save needs an attachment's ID as its message shows it: /save ID [PATH]")
	}
	id, out, ctx := args[0], "", m.ctx()
	if len(args) == 2 {
		out = expandHome(args[1])
	}
	m.addNote("saving "+safetext.Line(id)+" …", false)
	return func() tea.Msg {
		path, err := f.SaveAttachment(ctx, id, out, false, nil)
		return savedMsg{path: path, err: err}
	}
}

func (m *Model) saved(r savedMsg) {
	if r.err != nil {
		m.addNote("not saved: "+r.err.Error(), true)
		return
	}
	m.addNote("saved "+r.path, false)
}

// attachmentLines are the lines a message's attachments add below it.
func attachmentLines(atts []client.Attachment) []string {
	var out []string
	for _, a := range atts {
		what := sizeText(a.Size)
		if a.Width > 0 && a.Height > 0 {
			what += fmt.Sprintf(", %d×%d", a.Width, a.Height)
		}
		if a.Duration > 0 {
			what += ", " + playingTime(a.Duration)
		}
		out = append(out, fmt.Sprintf("📎 %s (%s) /save %s", safetext.Line(a.Name), what, safetext.Line(a.ID)))
	}
	return out
}

// playingTime writes a recording's length as m:ss (h:mm:ss from an hour).
func playingTime(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// sizeText writes a file size for people.
func sizeText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// expandHome reads a leading ~/ as the user's home directory, as a shell
// would have.
func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

// ctx is the context of the chat's background work.
func (m *Model) ctx() context.Context {
	if m.cfg.Context != nil {
		return m.cfg.Context
	}
	return context.Background()
}
