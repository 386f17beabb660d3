package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/skymsg/sky/client"
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
	Request      bool       `json:"request"`
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
		ReadAt: optTime(m.ReadAt), ExpiresAt: optTime(m.ExpiresAt), State: m.State.String(), Request: m.Request}
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// human prints a message for a person: time, direction, sender, text.
func human(w io.Writer, m client.Message) {
	when := m.SentAt.Local().Format("2006-01-02 15:04:05")
	who := m.From
	if m.Outgoing {
		who = "me → " + m.Conversation
	}
	var tags []string
	if m.Request {
		tags = append(tags, "request")
	}
	if m.Outgoing {
		tags = append(tags, m.State.String())
	}
	if !m.ExpiresAt.IsZero() {
		tags = append(tags, "disappears "+m.ExpiresAt.Local().Format("15:04:05"))
	}
	tag := ""
	if len(tags) > 0 {
		tag = " [" + strings.Join(tags, ", ") + "]"
	}
	text := m.Text
	if m.Kind == client.KindTimer {
		text = "* disappearing messages: " + formatTimer(m.Timer) + " *"
	}
	fmt.Fprintf(w, "%s %s%s: %s\n", when, who, tag, text)
}
