package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/ui/safetext"
)

// jsonMessage is a message as --json prints it.
type jsonMessage struct {
	Type         string     `json:"type"` // "message"
	ID           string     `json:"id"`
	LocalID      int64      `json:"local_id"`
	Conversation string     `json:"conversation"`
	From         string     `json:"from"`
	Outgoing     bool       `json:"outgoing"`
	Kind         string     `json:"kind"`
	Text         string     `json:"text"`
	Timer        int64      `json:"timer"` // seconds, 0: off
	SentAt       time.Time  `json:"sent_at"`
	ReceivedAt   *time.Time `json:"received_at,omitempty"`
	ReadAt       *time.Time `json:"read_at,omitempty"`
	ExpiresAt    *time.Time `json:"expires_at"`
	State        string     `json:"state"`
	Error        string     `json:"error,omitempty"` // why a failed message failed
	Request      bool       `json:"request"`
	// A group's text or notice: the group's ID and name, and for a notice
	// (kind "group") what changed.
	Group     string      `json:"group,omitempty"`
	GroupName string      `json:"group_name,omitempty"`
	Change    *jsonChange `json:"change,omitempty"`
	// The files a text carries (files.go); absent when none.
	Attachments []jsonAttachment `json:"attachments,omitempty"`
	Quote       *jsonQuote       `json:"quote,omitempty"`
	Reactions   []jsonReaction   `json:"reactions,omitempty"` // one per person
	EditedAt    *time.Time       `json:"edited_at,omitempty"`
	// Receipts: on the user's own group text, each member who confirmed
	// it (absent when none did, or the group's receipts are off).
	Receipts []jsonReceipt `json:"receipts,omitempty"`
}

// jsonReceipt is one member's receipt for a group text.
type jsonReceipt struct {
	Member string    `json:"member"`
	State  string    `json:"state"` // "delivered" or "read"
	At     time.Time `json:"at"`    // when this device learned it
}

func receiptsJSON(rs []client.MemberReceipt) []jsonReceipt {
	var out []jsonReceipt
	for _, r := range rs {
		st := "delivered"
		if r.Read {
			st = "read"
		}
		out = append(out, jsonReceipt{Member: r.By, State: st, At: r.At.UTC()})
	}
	return out
}

// receiptsText is what the user's group text shows of its members'
// receipts: who read it and who only received it.
func receiptsText(m client.Message, n names) string {
	var read, got []string
	for _, r := range m.Receipts {
		if r.Read {
			read = append(read, n.label(r.By))
		} else {
			got = append(got, n.label(r.By))
		}
	}
	var parts []string
	if len(read) > 0 {
		parts = append(parts, "read by "+strings.Join(read, ", "))
	}
	if len(got) > 0 {
		parts = append(parts, "delivered to "+strings.Join(got, ", "))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// jsonChange is what a group notice or group_change event reports.
type jsonChange struct {
	By            string   `json:"by"`
	Version       uint64   `json:"version"`
	Name          string   `json:"name"`
	Joined        bool     `json:"joined"`
	Added         []string `json:"added"`
	Removed       []string `json:"removed"`
	Left          []string `json:"left"`
	AdminsAdded   []string `json:"admins_added"`
	AdminsRemoved []string `json:"admins_removed"`
	Renamed       bool     `json:"renamed"`
	TimerChanged  bool     `json:"timer_changed"`
	Timer         int64    `json:"timer"`
	LinkChanged   bool     `json:"link_changed,omitempty"` // the invite link was made, replaced or revoked
	InviteLink    bool     `json:"invite_link,omitempty"`  // the group has one after it
	JoinRequests  []string `json:"join_requests,omitempty"`
}

func changeJSON(ch *client.GroupChange) *jsonChange {
	if ch == nil {
		return nil
	}
	return &jsonChange{By: ch.By, Version: ch.Version, Name: ch.Name, Joined: ch.Joined, Added: orEmpty(ch.Added), Removed: orEmpty(ch.Removed),
		Left: orEmpty(ch.Left), AdminsAdded: orEmpty(ch.AdminsAdded), AdminsRemoved: orEmpty(ch.AdminsRemoved), Renamed: ch.Renamed,
		TimerChanged: ch.TimerChanged, Timer: int64(ch.Timer / time.Second),
		LinkChanged: ch.LinkChanged, InviteLink: ch.InviteLink, JoinRequests: ch.JoinRequests}
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func toJSON(m client.Message) jsonMessage {
	return jsonMessage{Type: "message", ID: m.ID, LocalID: m.LocalID, Conversation: m.Conversation, From: m.From, Outgoing: m.Outgoing,
		Kind: string(m.Kind), Text: m.Text, Timer: int64(m.Timer / time.Second), SentAt: m.SentAt.UTC(), ReceivedAt: optTime(m.ReceivedAt),
		ReadAt: optTime(m.ReadAt), ExpiresAt: optTime(m.ExpiresAt), State: m.State.String(), Error: m.Failure, Request: m.Request,
		Group: m.Group, GroupName: m.GroupName, Change: changeJSON(m.Change), Attachments: attachmentsJSON(m),
		Quote: quoteJSON(m.Quote), Reactions: reactionsJSON(m.Reactions), EditedAt: optTime(m.EditedAt), Receipts: receiptsJSON(m.Receipts)}
}

type jsonQuote struct {
	ID      string `json:"id"`
	From    string `json:"from,omitempty"`
	Excerpt string `json:"excerpt,omitempty"`
	Missing bool   `json:"missing"`
}

func quoteJSON(q *client.Quote) *jsonQuote {
	if q == nil {
		return nil
	}
	return &jsonQuote{ID: q.ID, From: q.From, Excerpt: q.Excerpt, Missing: q.Missing}
}

type jsonReaction struct {
	By    string `json:"by"`
	Emoji string `json:"emoji"`
}

func reactionsJSON(rs []client.Reaction) []jsonReaction {
	var out []jsonReaction
	for _, r := range rs {
		out = append(out, jsonReaction{By: r.By, Emoji: r.Emoji})
	}
	return out
}

// actionsText is what a message shows of replies, edits and reactions:
// the quoted excerpt (or that the original is gone) before, "edited" and
// the reactions after. Peer-chosen text is made inert.
func actionsText(m client.Message) (before, after string) {
	if q := m.Quote; q != nil {
		if q.Missing {
			before = "[replying to: original message not available] "
		} else {
			before = "[replying to " + q.ID[:8] + ": " + safetext.Line(q.Excerpt) + "] "
		}
	}
	if !m.EditedAt.IsZero() {
		after += " (edited)"
	}
	for _, r := range m.Reactions {
		after += " " + safetext.Line(r.Emoji)
	}
	return before, after
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// humanLine is human's line for m, without its newline.
func humanLine(m client.Message, self string, n names) string {
	var b strings.Builder
	human(&b, m, self, n)
	return strings.TrimSuffix(b.String(), "\n")
}

// human prints a message for a person: time, direction, sender, text.
// self is the user's own Sky ID. Everything a peer chose is printed inert
// (package safetext): escapes shown, never run, and each line of the text
// after the first marked as this message's, so no text can pose as a line
// from someone else.
func human(w io.Writer, m client.Message, self string, n names) {
	when := m.SentAt.Local().Format("2006-01-02 15:04:05")
	who := n.label(m.From)
	switch {
	case m.Group != "" && m.Outgoing:
		who = fmt.Sprintf("me → group %q", m.GroupName)
	case m.Group != "":
		who = fmt.Sprintf("%s in group %q", n.label(m.From), m.GroupName)
	case m.Outgoing:
		who = "me → " + n.label(m.Conversation)
	}
	var tags []string
	if m.Request {
		tags = append(tags, "request")
	}
	switch {
	case m.Outgoing && m.State == client.Failed && m.Failure != "":
		tags = append(tags, "failed: "+safetext.Line(m.Failure))
	case m.Outgoing:
		tags = append(tags, m.State.String())
	}
	if !m.ExpiresAt.IsZero() {
		tags = append(tags, "disappears in "+timeLeft(time.Until(m.ExpiresAt)))
	}
	tag := ""
	if len(tags) > 0 {
		tag = " [" + strings.Join(tags, ", ") + "]"
	}
	text := safetext.Text(m.Text)
	if m.Kind == client.KindTimer {
		text = "* disappearing messages: " + formatTimer(m.Timer) + " *"
	}
	if m.Kind == client.KindDevices {
		text = "* " + safetext.Line(m.Text) + " *"
	}
	if m.Kind == client.KindGroup && m.Change != nil {
		text = "* " + describeChange(m.Change, self, n) + " *"
	}
	before, after := actionsText(m)
	fmt.Fprintf(w, "%s %s%s: %s%s%s%s%s\n", when, who, tag, before, text, after, attachmentsText(m), receiptsText(m, n))
}

// timeLeft says how long until a message disappears: "4m32s", "2h05m",
// "3d4h"; "now" once it is due.
func timeLeft(d time.Duration) string {
	switch {
	case d < time.Second:
		return "now"
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 24*time.Hour:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	d = d.Round(time.Hour)
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}
