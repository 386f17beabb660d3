package tui

import (
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/skymsg/sky/ui/safetext"
)

// helpLines is what /help shows.
var helpLines = []string{
	"Commands (in the open conversation):",
	"  /verify                 show the safety number to compare with them",
	"  /verify NUMBER          mark the number you compared verified (or accept their new key)",
	"  /verify --keep-old      refuse a new key; keep the one you had",
	"  /timer [5m|1h|2d|off]   show or set the disappearing timer",
	"  /accept                 accept a message request",
	"  /block                  refuse a message request; what they send later is dropped",
	"  /open ID|NAME           open a conversation (a new one by Sky ID)",
	"  /file PATH [CAPTION]    send a file (photos lose their metadata first)",
	"  /save ID [PATH]         save an attachment (its ID follows 📎 in the chat)",
	"  /group create NAME ID…  make a group; /group list lists them",
	"  /group add|remove ID…, /group rename NAME, /group admin ID [--remove],",
	"  /group timer D, /group leave, /group show   change the open group",
	"  /reply N TEXT, /react N [EMOJI], /edit N TEXT, /unsend N",
	"                          act on message N (1: the last one; or the start of its ID)",
	"  /backup [FILE]          an encrypted backup of the account (the first shows its recovery key)",
	"  //text                  send a text that starts with /",
	"  /quit                   leave (ctrl+c too)",
}

// groupSubcommands are the group commands that name a group first; in an
// open group the chat puts its ID there.
var groupSubcommands = []string{"add", "remove", "rename", "admin", "timer", "leave", "show", "send", "history", "link", "approve", "deny"}

// command carries out a composer command.
func (m *Model) command(line string) tea.Cmd {
	f := strings.Fields(line)
	name, args := strings.ToLower(f[0]), f[1:]
	c := m.open
	if c == nil && !slices.Contains([]string{"/help", "/?", "/quit", "/exit", "/open", "/group", "/save", "/backup"}, name) {
		return m.refuse("open a conversation first: pick one on the left, or /open ID")
	}
	switch name {
	case "/help", "/?":
		m.addNote(strings.Join(helpLines, "\n"), false)
		return nil
	case "/quit", "/exit":
		m.quitting = true
		return tea.Quit
	case "/open":
		if len(args) == 0 {
			m.addNote("/open needs a Sky ID, a nickname or a group", true)
			return nil
		}
		next, err := m.resolve(strings.Join(args, " "))
		if err != nil {
			m.addNote(err.Error(), true)
			return nil
		}
		m.openConv(next)
		return nil
	case "/verify":
		if c.kind == kindGroup {
			return m.refuse("/verify compares a person's safety number; open your chat with them")
		}
		cmd := []string{"verify", c.id}
		switch {
		case len(args) == 1 && args[0] == "--keep-old":
			cmd = append(cmd, "--keep-old")
		case len(args) > 0:
			cmd = append(append(cmd, "--confirm"), args...)
		}
		return m.run(cmd)
	case "/timer":
		if c.kind == kindGroup {
			return m.run(append([]string{"group", "timer", c.id}, args...))
		}
		return m.run(append([]string{"timer", c.id}, args...))
	case "/accept", "/block":
		if c.kind != kindRequest {
			return m.refuse(name + " works on a message request; " + safetext.Line(c.label()) + " is not one")
		}
		verb := "accept"
		if name == "/block" {
			verb = "reject"
		}
		return m.run([]string{"requests", verb, c.id})
	case "/file":
		return m.sendFile(args)
	case "/save":
		return m.saveFile(args)
	case "/reply", "/react", "/edit", "/unsend":
		if c.kind == kindRequest {
			return m.refuse(name + " works in a chat with a contact or a group; /accept the request first")
		}
		return m.actionCommand(name, args)
	case "/backup":
		if len(args) > 1 {
			return m.refuse("/backup takes one file name (or none: a dated one here)")
		}
		if len(args) == 1 {
			args[0] = expandHome(args[0])
		}
		return m.run(append([]string{"backup", "create"}, args...))
	case "/group":
		if len(args) > 0 && c != nil && c.kind == kindGroup && slices.Contains(groupSubcommands, strings.ToLower(args[0])) {
			args = append([]string{args[0], c.id}, args[1:]...)
		}
		return m.run(append([]string{"group"}, args...))
	}
	return m.refuse("unknown command " + safetext.Line(name) + "; /help lists them (//text sends a text starting with /)")
}

// openID is the open conversation's ID, or "" when none is open.
func (m *Model) openID() string {
	if m.open == nil {
		return ""
	}
	return m.open.id
}

func (m *Model) refuse(why string) tea.Cmd {
	m.addNote(why, true)
	return nil
}

// run carries out one of sky's commands in the background; ran shows what
// it printed.
func (m *Model) run(args []string) tea.Cmd {
	if m.cfg.Run == nil {
		return m.refuse("commands are not available here")
	}
	m.addNote("running: sky "+strings.Join(args, " "), false)
	run, conv := m.cfg.Run, m.openID()
	return func() tea.Msg {
		out, err := run(args)
		return ranMsg{conv: conv, out: out, err: err, args: args}
	}
}

// ran shows what a command printed and reads what it may have changed.
func (m *Model) ran(r ranMsg) tea.Cmd {
	m.reload()
	if m.openID() != r.conv { // the user moved on meanwhile
		if r.err != nil {
			m.status = "sky " + r.args[0] + ": " + r.err.Error()
		}
		return nil
	}
	if c := m.find(r.conv); c == nil && r.args[0] == "requests" {
		m.open, m.msgs, m.notes = nil, nil, nil // a refused request is gone
	}
	if m.open != nil {
		m.loadOpen()
	}
	if out := strings.TrimSpace(r.out); out != "" {
		m.addNote(out, r.err != nil)
	}
	if r.err != nil && !strings.Contains(r.out, r.err.Error()) {
		m.addNote(r.err.Error(), true)
	}
	if r.err == nil && strings.TrimSpace(r.out) == "" {
		m.addNote("done", false)
	}
	return m.expiryTick()
}
