package client

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestConversation runs a real skyd and two real clients over loopback:
// register, a first message as a request, accept, receipts, a conversation
// both ways online and offline, and restarts of either client and of the
// server — every message shown once, in order.
func TestConversation(t *testing.T) {
	s := startSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	a, b := alice.c.ID(), bob.c.ID()
	if !ValidID(a) || !ValidID(b) || a == b {
		t.Fatalf("IDs %q %q", a, b)
	}

	// The first message from a stranger is a request: shown, no receipt.
	m1 := alice.send(b, "hello bob")
	alice.flush()
	e := next(t, bob, func(e *MessageEvent) bool { return true })
	if e.Message.Text != "hello bob" || !e.Message.Request || e.Message.From != a || e.Message.ID != m1.ID {
		t.Fatalf("bob got %+v (text %q, request %v)", e.Message, e.Message.Text, e.Message.Request)
	}
	reqs, err := bob.c.Requests()
	if err != nil || len(reqs) != 1 || reqs[0].ID != a || reqs[0].Messages != 1 {
		t.Fatalf("requests %+v, %v", reqs, err)
	}
	if _, err := bob.c.MarkRead(e.Message.LocalID); err != nil {
		t.Fatal(err)
	}
	if items := bob.outbox(); len(items) != 0 {
		t.Fatalf("bob queued %d items (receipts) for a request he did not accept", len(items))
	}

	// Accepted: receipts flow, and the conversation goes both ways.
	if err := bob.c.Accept(a); err != nil {
		t.Fatal(err)
	}
	m2 := alice.send(b, "are you there?")
	got := next(t, bob, func(e *MessageEvent) bool { return true }).Message
	if got.Request || got.Text != "are you there?" {
		t.Fatalf("bob got %q request=%v", got.Text, got.Request)
	}
	r := next(t, alice, func(e *ReceiptEvent) bool { return e.State == Delivered })
	if r.Conversation != b || len(r.MessageIDs) != 1 || r.MessageIDs[0] != m2.ID {
		t.Fatalf("delivery receipt %+v", r)
	}
	if _, err := bob.c.MarkRead(got.LocalID); err != nil {
		t.Fatal(err)
	}
	next(t, alice, func(e *ReceiptEvent) bool { return e.State == Read && e.MessageIDs[0] == m2.ID })
	bob.send(a, "yes!")
	if txt := texts(t, alice, 1); txt[0] != "yes!" {
		t.Fatalf("alice got %q", txt)
	}

	// Bob offline: Alice's messages wait on the server.
	bob.pause()
	for i := range 3 {
		alice.send(b, fmt.Sprint("offline ", i))
	}
	alice.flush()
	bob.start()
	if got := texts(t, bob, 3); !eq(got, []string{"offline 0", "offline 1", "offline 2"}) {
		t.Fatalf("bob got %q", got)
	}

	// Alice offline: her messages wait in her outbox.
	alice.pause()
	alice.send(b, "written offline")
	if err := alice.c.Flush(shortCtx(t, 200*time.Millisecond)); !errors.Is(err, ErrOffline) {
		t.Fatalf("Flush offline: %v", err)
	}
	alice.start()
	alice.flush()
	if got := texts(t, bob, 1); got[0] != "written offline" {
		t.Fatalf("bob got %q", got)
	}

	// Restarts of either client and of the server.
	bob.reopen()
	alice.send(b, "after bob restarted")
	if got := texts(t, bob, 1); got[0] != "after bob restarted" {
		t.Fatalf("bob got %q", got)
	}
	alice.reopen()
	s.restart()
	alice.send(b, "after the server restarted")
	if got := texts(t, bob, 1); got[0] != "after the server restarted" {
		t.Fatalf("bob got %q", got)
	}
	bob.send(a, "me too")
	if got := texts(t, alice, 1); got[0] != "me too" {
		t.Fatalf("alice got %q", got)
	}

	want := []string{">hello bob", ">are you there?", "<yes!", ">offline 0", ">offline 1", ">offline 2", ">written offline",
		">after bob restarted", ">after the server restarted", "<me too"}
	if got := historyTexts(t, alice.c, b); !eq(got, want) {
		t.Errorf("alice's history:\n got %q\nwant %q", got, want)
	}
	for i := range want {
		if want[i][0] == '>' {
			want[i] = "<" + want[i][1:]
		} else {
			want[i] = ">" + want[i][1:]
		}
	}
	if got := historyTexts(t, bob.c, a); !eq(got, want) {
		t.Errorf("bob's history:\n got %q\nwant %q", got, want)
	}
}
