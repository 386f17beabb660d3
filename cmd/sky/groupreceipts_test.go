package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/client"
)

// TestGroupReceiptsOutput: the user's group text shows who read it and who
// only received it, by nickname where there is one, in history lines and
// in --json; a text nobody confirmed shows nothing of receipts.
func TestGroupReceiptsOutput(t *testing.T) {
	at := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	m := client.Message{ID: strings.Repeat("a", 32), Conversation: strings.Repeat("b", 32), Group: strings.Repeat("b", 32), GroupName: "Desk",
		From: "aaaaaaaaaa", Outgoing: true, Kind: client.KindText, Text: "story at six", SentAt: at, State: client.Delivered,
		Receipts: []client.MemberReceipt{{By: "bbbbbbbbbb", Read: true, At: at}, {By: "cccccccccc", At: at}}}
	line := humanLine(m, "aaaaaaaaaa", names{"bbbbbbbbbb": "Bob"})
	if !strings.HasSuffix(line, "story at six (read by bbbbbbbbbb (Bob); delivered to cccccccccc)") {
		t.Fatalf("line %q", line)
	}
	b, err := json.Marshal(toJSON(m))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"receipts":[{"member":"bbbbbbbbbb","state":"read","at":"2031-01-02T03:04:05Z"},{"member":"cccccccccc","state":"delivered","at":"2031-01-02T03:04:05Z"}]`) {
		t.Fatalf("json %s", b)
	}
	m.Receipts = nil
	if line := humanLine(m, "aaaaaaaaaa", nil); strings.Contains(line, "read by") || strings.Contains(line, "delivered to") {
		t.Fatalf("no receipts, yet %q", line)
	}
	if b, _ := json.Marshal(toJSON(m)); strings.Contains(string(b), "receipts") {
		t.Fatalf("no receipts, yet %s", b)
	}
}
