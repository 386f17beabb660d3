package main

// Messages: sending, receiving and reading conversations.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/client/attach"
	"github.com/skymsg/sky/ui/safetext"
)

func cmdSend(e *env, args []string) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	pos, files, err := sendWith(fs, args, "ID TEXT (or ID - to read the text from stdin), or ID [--file PATH]... [TEXT]")
	if err != nil {
		return err
	}
	if len(files) > 0 {
		return e.sendFiles(pos[0], pos, files, *asJSON, false, func(c *client.Client, text string, p attach.FileProgress) ([]client.Message, []*attach.Prepared, error) {
			to, err := resolveID(c, pos[0])
			if err != nil {
				return nil, nil, err
			}
			m, preps, err := c.SendFiles(e.ctx, to, text, files, p)
			return []client.Message{m}, preps, err
		})
	}
	return e.sendText(pos[0], pos[1], *asJSON, false, func(c *client.Client, text string) ([]client.Message, error) {
		to, err := resolveID(c, pos[0])
		if err != nil {
			return nil, err
		}
		return one(c.Send(to, text))
	})
}

// sendText sends a text from the command line (or stdin, for "-"): it
// queues the text with queue, stays online until the outbox is sent (or the
// server is found unreachable) and prints each message queued as its
// conversation now holds it: its ID and state (after the conversation, with
// withConversation), or its JSON. to names the recipients in errors. When
// queue made some messages and failed for other recipients, those are sent
// and printed before the failure is reported.
func (e *env) sendText(to, arg string, asJSON, withConversation bool, queue func(c *client.Client, text string) ([]client.Message, error)) error {
	text, err := e.text(arg)
	if err != nil {
		return err
	}
	c, err := e.open()
	if err != nil {
		return err
	}
	defer e.release(c)
	ms, queueErr := queue(c, text)
	if len(ms) == 0 && queueErr != nil {
		return fmt.Errorf("cannot send to %s: %w", to, queueErr)
	}
	stop := e.online(c)
	defer stop()
	if err := e.flush(c); err != nil {
		return fmt.Errorf("cannot send to %s: %w", to, err)
	}
	var failed []client.Message
	for _, m := range ms {
		m = latest(c, m)
		if m.State == client.Failed {
			failed = append(failed, m)
		}
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
	if queueErr != nil {
		return fmt.Errorf("not sent to every recipient: %w", queueErr)
	}
	return sendFailed(failed)
}

// sendFailed reports messages that failed: each with why on stderr (the
// error makes the command exit non-zero); they stay in their conversation,
// marked failed, until dismissed.
func sendFailed(failed []client.Message) error {
	if len(failed) == 0 {
		return nil
	}
	m := failed[0]
	why := m.Failure
	if why == "" {
		why = "the server refused it"
	}
	return fmt.Errorf("message %s to %s failed: %s (it stays in sky history %s, marked failed, until you run: sky dismiss %s)",
		m.ID, m.Conversation, why, m.Conversation, m.Conversation)
}

func cmdDismiss(e *env, args []string) error {
	pos, err := parse(flag.NewFlagSet("dismiss", flag.ContinueOnError), args, 1, 1001, "ID [MSGID...]")
	if err != nil {
		return err
	}
	return withClient(e, func(c *client.Client) error {
		peer, err := resolveID(c, pos[0])
		if err != nil {
			return err
		}
		ms, err := c.History(peer, 0)
		if err != nil {
			return err
		}
		want := map[string]bool{}
		for _, id := range pos[1:] {
			want[strings.ToLower(id)] = true
		}
		n := 0
		for _, m := range ms {
			if (len(want) == 0 && m.Outgoing && m.State == client.Failed) || want[m.ID] {
				if err := c.DeleteMessage(m.LocalID); err != nil {
					return err
				}
				delete(want, m.ID)
				n++
			}
		}
		for id := range want {
			return fmt.Errorf("no message %s in the conversation with %s (see sky history %s)", id, peer, peer)
		}
		fmt.Fprintf(e.stdout, "Dismissed %d message(s) of the conversation with %s.\n", n, contactNames(c).label(peer))
		return nil
	})
}

// one is a single queued message as sendText's queue returns it.
func one(m client.Message, err error) ([]client.Message, error) {
	if err != nil {
		return nil, err
	}
	return []client.Message{m}, nil
}

// latest returns a message as its conversation holds it now (its state
// after the outbox was flushed).
func latest(c *client.Client, m client.Message) client.Message {
	if h, err := c.History(m.Conversation, 20); err == nil {
		for _, x := range h {
			if x.ID == m.ID {
				return x
			}
		}
	}
	return m
}

// receiveFlags are receive's options, the same whether sky or a daemon
// receives.
type receiveFlags struct {
	follow, json bool
	timeout      time.Duration
}

func parseReceive(args []string) (receiveFlags, error) {
	var f receiveFlags
	fs := flag.NewFlagSet("receive", flag.ContinueOnError)
	fs.BoolVar(&f.follow, "follow", false, "")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Second, "")
	fs.BoolVar(&f.json, "json", false, "")
	_, err := parse(fs, args, 0, 0, "no arguments")
	return f, err
}

func cmdReceive(e *env, args []string) error {
	f, err := parseReceive(args)
	if err != nil {
		return err
	}
	e.waiting = true
	c, err := e.open()
	if err != nil {
		return err
	}
	defer e.release(c)
	sub := c.Subscribe()
	defer sub.Close()
	// What is stored already is shown even when the server is unreachable.
	p := &printer{e: e, c: c, json: f.json, shown: map[int64]bool{}}
	if err := p.unread(); err != nil {
		return err
	}
	var stop func()
	if f.follow {
		// Watched: wait as long as it takes. The printer says on stderr
		// when the server cannot be reached and when it is connected.
		stop = e.online(c)
	} else if stop, err = e.connect(c); err != nil {
		return err
	}
	defer stop()
	if err := p.unread(); err != nil { // what arrived while connecting
		return err
	}
	idle := time.NewTimer(f.timeout)
	defer idle.Stop()
	for {
		var deadline <-chan time.Time
		if !f.follow {
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
				idle.Reset(f.timeout)
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
	conn  connState
}

// connState turns connection events into the two lines a watching user
// needs: when the connection drops or the server cannot be reached at all
// (once, however many attempts fail) and when it is up.
type connState struct{ lost, up bool }

func (s *connState) change(e *client.ConnectionEvent) (obj map[string]any, line string, ok bool) {
	wasUp := s.up
	s.up = s.up || e.Connected
	switch {
	case !e.Connected && !s.lost:
		s.lost = true
		why := "it closed"
		if e.Err != nil {
			why = safetext.Line(oneLine(e.Err.Error()))
		}
		line = "lost the connection to the server (" + why + "); reconnecting, messages wait on the server meanwhile"
		if !wasUp {
			line = "cannot connect to the server (" + why + "); still trying, messages wait on the server meanwhile"
		}
		return map[string]any{"type": "connection", "connected": false, "error": why}, line, true
	case e.Connected && s.lost:
		s.lost = false
		line = "connected to the server again"
		if !wasUp {
			line = "connected to the server"
		}
		return map[string]any{"type": "connection", "connected": true}, line, true
	}
	return nil, "", false
}

// endsWatching reports whether a connection error means no later attempt
// can succeed (the device is unknown or removed, the server's certificate
// is not from the trust root), so receive --follow stops with it instead
// of waiting for ever.
func endsWatching(err error) bool {
	return errors.Is(err, client.ErrAuthFailed) || errors.Is(err, client.ErrRemoved) || errors.Is(err, client.ErrTrustRoot)
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
			human(p.e.stdout, m, p.c.ID(), contactNames(p.c))
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
	case *client.ConnectionEvent:
		if endsWatching(e.Err) {
			return false, unreachable(p.c.Server(), e.Err)
		}
		if _, line, ok := p.conn.change(e); ok {
			fmt.Fprintf(p.e.stderr, "sky: %s\n", line) // status, not data: on stderr even with --json
		}
		return false, nil
	}
	if obj, line, ok := describeEvent(ev, p.c.ID(), contactNames(p.c)); ok {
		return false, p.note(obj, line)
	}
	return false, nil
}

// describeEvent gives an event other than a message as receive prints it:
// the JSON object of --json, and the line for a person. ok is false for
// events receive does not show. self is the user's own Sky ID.
func describeEvent(ev client.Event, self string, n names) (obj map[string]any, line string, ok bool) {
	note := func(o map[string]any, format string, args ...any) (map[string]any, string, bool) {
		return o, fmt.Sprintf(format, args...), true
	}
	switch e := ev.(type) {
	case *client.ReceiptEvent:
		if e.By != "" { // a member's receipt for the user's group texts
			return note(map[string]any{"type": "receipt", "conversation": e.Conversation, "ids": e.MessageIDs, "state": e.State.String(), "by": e.By},
				"group %s: %d message(s) %s by %s", e.Conversation, len(e.MessageIDs), e.State, n.label(e.By))
		}
		return note(map[string]any{"type": "receipt", "conversation": e.Conversation, "ids": e.MessageIDs, "state": e.State.String()},
			"%s: %d message(s) %s", n.label(e.Conversation), len(e.MessageIDs), e.State)
	case *client.IdentityChangedEvent:
		return note(map[string]any{"type": "identity_changed", "peer": e.Peer, "verified": e.Verified},
			"%s", (&client.IdentityChangedError{Peer: e.Peer, Verified: e.Verified}).Error())
	case *client.TimerEvent:
		who := n.label(e.By)
		if e.By == self {
			who = "you"
		}
		return note(map[string]any{"type": "timer", "conversation": e.Conversation, "timer": int64(e.Timer / time.Second), "by": e.By},
			"%s set disappearing messages in the conversation with %s to %s", who, n.label(e.Conversation), formatTimer(e.Timer))
	case *client.GapEvent:
		in := ""
		if e.Group != "" {
			in = " to group " + e.Group
		}
		return note(map[string]any{"type": "gap", "peer": e.Peer, "missing": e.Missing, "group": e.Group},
			"%d message(s) from %s%s never arrived", e.Missing, n.label(e.Peer), in)
	case *client.GroupEvent:
		return note(map[string]any{"type": "group_change", "group": e.Group, "change": changeJSON(&e.Change)},
			"group %s (%q): %s", e.Group, e.Change.Name, describeChange(&e.Change, self, n))
	case *client.UnannouncedDeviceEvent:
		return note(map[string]any{"type": "unannounced_device", "peer": e.Peer, "device": e.Device},
			"the server claims %s has a device %d, which is not on their signed device list; nothing was sent to it (the server may be hostile)", e.Peer, e.Device)
	case *client.DeviceListEvent:
		return describeDeviceList(e, self, n)
	case *client.DeviceListRefusedEvent:
		return note(map[string]any{"type": "device_list_refused", "peer": e.Peer, "reason": e.Reason},
			"the server served a device list for %s that was refused (%s); nothing goes to a device they did not sign for (the server may be hostile)", n.label(e.Peer), safetext.Line(e.Reason))
	case *client.AccessRefusedEvent:
		return note(map[string]any{"type": "access_refused", "peer": e.Peer, "confirmed": e.Confirmed}, "%s",
			(&client.AccessRefusedError{Peer: e.Peer, Confirmed: e.Confirmed}).Error())
	case *client.FailedEvent:
		return note(map[string]any{"type": "failed", "conversation": e.Conversation, "id": e.MessageID, "error": e.Err.Error()},
			"message %s to %s failed: %s", e.MessageID, n.label(e.Conversation), safetext.Line(e.Err.Error()))
	case *client.ActionEvent:
		who := n.label(e.By)
		if e.By == self {
			who = "you"
		}
		what := map[string]string{"reaction": "reacted " + safetext.Line(e.Emoji) + " to", "edit": "edited", "delete": "deleted for everyone"}[e.Action]
		if e.Action == "reaction" && e.Emoji == "" {
			what = "removed their reaction to"
		}
		return note(map[string]any{"type": e.Action, "conversation": e.Conversation, "id": e.MessageID, "by": e.By, "emoji": e.Emoji, "text": e.Text},
			"%s %s message %s in the conversation with %s", who, what, e.MessageID, n.label(e.Conversation))
	case *client.ProfileEvent:
		return note(map[string]any{"type": "profile", "peer": e.Peer, "name": e.Name, "version": e.Version, "avatar": e.Avatar},
			"%s shared their profile (version %d): ~%s", n.label(e.Peer), e.Version, safetext.Line(e.Name))
	case *client.TypingEvent:
		return note(map[string]any{"type": "typing", "peer": e.Peer, "group": e.Group, "typing": e.Typing, "until": e.Until.UTC()},
			"%s %s", n.label(e.Peer), map[bool]string{true: "is typing", false: "stopped typing"}[e.Typing])
	case *client.AttachmentEvent:
		if e.Err == nil {
			return nil, "", false // downloaded: nothing to do
		}
		a := e.Attachment
		return note(map[string]any{"type": "attachment_not_downloaded", "id": a.ID, "name": a.Name, "size": a.Size, "error": e.Err.Error()},
			"attachment %s (%s, %s) was not downloaded: %s; sky save %s fetches it while the server keeps it", a.ID, safetext.Line(a.Name), size(a.Size), safetext.Line(e.Err.Error()), a.ID)
	case *client.DroppedEvent:
		return note(map[string]any{"type": "dropped", "from": e.From, "reason": e.Reason},
			"dropped a message (claimed sender %q): %s", e.From, safetext.Line(e.Reason))
	}
	return nil, "", false
}

// note prints an event: a JSON object with --json, else a line on stderr.
func (p *printer) note(obj map[string]any, line string) error {
	if p.json {
		return writeJSON(p.e.stdout, obj)
	}
	fmt.Fprintf(p.e.stderr, "sky: %s\n", line)
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
	c, err := e.open()
	if err != nil {
		return err
	}
	defer e.release(c)
	peer, err := resolveID(c, pos[0])
	if err != nil {
		return err
	}
	return e.showHistory(c, peer, *limit, *asJSON)
}

// showHistory prints a conversation (a peer's or a group's) and marks it
// read.
func (e *env) showHistory(c *client.Client, conv string, limit int, asJSON bool) error {
	ms, err := c.History(conv, limit)
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
	n := contactNames(c)
	for _, m := range ms {
		if asJSON {
			if err := writeJSON(e.stdout, toJSON(m)); err != nil {
				return err
			}
		} else {
			human(e.stdout, m, c.ID(), n)
		}
	}
	return nil
}
