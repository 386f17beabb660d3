package client

import (
	"slices"
	"testing"
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/client/typing"
)

// noTypingBefore waits for the message with text and fails if a
// TypingEvent comes first.
func noTypingBefore(t *testing.T, u *user, text string) {
	t.Helper()
	next(t, u, func(e Event) bool {
		if te, ok := e.(*TypingEvent); ok {
			t.Fatalf("%s: unexpected typing indicator %+v", u.c.ID(), te)
		}
		me, ok := e.(*MessageEvent)
		return ok && me.Message.Text == text
	})
}

// TestTyping: typing indicators are off by default both ways; on, they go
// end to end to contacts and groups, rate-limited, never stored; the
// receiver shows them until a few seconds pass; late ones, a stranger's
// and a request's are not shown.
func TestTyping(t *testing.T) {
	s := startSkyd(t)
	clk := newClock()
	alice := newUser(t, s, testOptions(clk))
	bob := newUser(t, s, testOptions(clk))
	carol := newUser(t, s, testOptions(clk))
	a, b, c := alice.c.ID(), bob.c.ID(), carol.c.ID()
	alice.send(b, "hi")
	alice.flush()
	next(t, bob, func(e *MessageEvent) bool { return e.Message.Text == "hi" })
	if err := bob.c.Accept(a); err != nil {
		t.Fatal(err)
	}

	// Off by default: nothing is queued.
	if on, err := alice.c.TypingIndicators(); err != nil || on {
		t.Fatalf("typing indicators on by default (%v)", err)
	}
	if err := alice.c.Typing(b, true); err != nil || len(alice.outbox()) != 0 {
		t.Fatalf("queued %d with indicators off (%v)", len(alice.outbox()), err)
	}
	// Alice on, Bob off: Bob shows nothing.
	if err := alice.c.SetTypingIndicators(true); err != nil {
		t.Fatal(err)
	}
	if err := alice.c.Typing(b, true); err != nil || len(alice.outbox()) != 1 {
		t.Fatalf("queued %d with indicators on (%v)", len(alice.outbox()), err)
	}
	alice.send(b, "one")
	alice.flush()
	noTypingBefore(t, bob, "one")

	// Both on: shown until Expiry; repeated within Refresh, nothing goes.
	if err := bob.c.SetTypingIndicators(true); err != nil {
		t.Fatal(err)
	}
	clk.Advance(typing.Refresh)
	alice.c.Typing(b, true)
	alice.c.Typing(b, true)
	if n := len(alice.outbox()); n != 1 {
		t.Fatalf("%d indicators queued within the refresh interval, want 1", n)
	}
	alice.flush()
	ev := next(t, bob, func(e *TypingEvent) bool { return e.Peer == a })
	if !ev.Typing || ev.Group != "" || !ev.Until.Equal(clk.Now().Add(typing.Expiry)) {
		t.Fatalf("bob got %+v", ev)
	}
	board := typing.NewBoard(clk.Now)
	board.Note(ev)
	if who := board.Who(a); len(who) != 1 || who[0] != a {
		t.Fatalf("board shows %v", who)
	}
	clk.Advance(typing.Expiry)
	if who := board.Who(a); len(who) != 0 {
		t.Fatalf("an indicator outlived its expiry: %v", who)
	}
	alice.c.Typing(b, false)
	alice.flush()
	if ev := next(t, bob, func(e *TypingEvent) bool { return e.Peer == a }); ev.Typing {
		t.Fatalf("bob got %+v, want stopped", ev)
	}

	// A late indicator (Bob offline longer than Expiry) is not shown.
	bob.pause()
	clk.Advance(typing.Refresh)
	alice.c.Typing(b, true) // alice is connected: it is queued and sent
	alice.flush()
	clk.Advance(2 * typing.Expiry)
	alice.send(b, "late")
	alice.flush()
	bob.start()
	noTypingBefore(t, bob, "late")

	// A request's indicator is not shown; Carol may send (Bob is her
	// contact by her message), Bob ignores it.
	if err := carol.c.SetTypingIndicators(true); err != nil {
		t.Fatal(err)
	}
	carol.send(b, "hello?")
	carol.c.Typing(b, true)
	carol.send(b, "still me")
	carol.flush()
	noTypingBefore(t, bob, "still me")
	// A stranger's is dropped before it is read.
	forgeTyping(t, carol, a)
	refusedBy(t, alice, c, "neither a contact nor a message request")

	// In a group, to every member.
	g, err := bob.c.CreateGroup("Desk", []string{a, c})
	if err != nil {
		t.Fatal(err)
	}
	next(t, alice, func(e *GroupEvent) bool { return e.Group == g.ID })
	next(t, carol, func(e *GroupEvent) bool { return e.Group == g.ID })
	clk.Advance(typing.Refresh)
	if err := alice.c.Typing(g.ID, true); err != nil {
		t.Fatal(err)
	}
	alice.flush()
	if ev := next(t, carol, func(e *TypingEvent) bool { return e.Peer == a }); ev.Group != g.ID {
		t.Fatalf("carol got %+v", ev)
	}
	if ev := next(t, bob, func(e *TypingEvent) bool { return e.Peer == a }); ev.Group != g.ID {
		t.Fatalf("bob got %+v", ev)
	}
}

// forgeTyping makes u send peer a typing indicator the SDK would not send
// (peer is not u's contact): what a modified client can do.
func forgeTyping(t *testing.T, u *user, peer string) {
	t.Helper()
	self := u.c.core.Self()
	now := u.c.core.Now().Truncate(time.Millisecond)
	body, err := content.Encode(&content.Content{Version: content.Version, Sender: self.Name, SenderDevice: self.DeviceID,
		Recipient: peer, ID: core.NewContentID(), SentAt: now, Kind: content.KindTyping, Typing: true})
	if err != nil {
		t.Fatal(err)
	}
	err = u.c.core.Update(func(tx *store.Tx) error {
		return tx.Enqueue(&store.Outgoing{To: peer, Payload: core.EncodeOutItem(core.OutItem{Content: body}), CreatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	u.c.core.KickOutbox()
	u.flush()
}

// TestTypingFloodThrottled: a contact's modified client floods typing
// indicators (alternating, past the sender's rate limit); the receiver
// turns them into typing.Burst events, then one per typing.Throttle, and
// none of it is stored.
func TestTypingFloodThrottled(t *testing.T) {
	s := startSkyd(t)
	clk := newClock()
	alice := newUser(t, s, testOptions(clk))
	bob := newUser(t, s, testOptions(clk))
	a, b := alice.c.ID(), bob.c.ID()
	alice.send(b, "hi")
	alice.flush()
	next(t, bob, func(e *MessageEvent) bool { return e.Message.Text == "hi" })
	if err := bob.c.Accept(a); err != nil {
		t.Fatal(err)
	}
	if err := bob.c.SetTypingIndicators(true); err != nil {
		t.Fatal(err)
	}
	const flood = 30
	floodTyping(t, alice, b, flood)
	alice.send(b, "after")
	alice.flush()
	var got []bool
	next(t, bob, func(e Event) bool {
		if te, ok := e.(*TypingEvent); ok && te.Peer == a {
			got = append(got, te.Typing)
		}
		me, ok := e.(*MessageEvent)
		return ok && me.Message.Text == "after"
	})
	if want := []bool{true, false, true, false}; !slices.Equal(got, want) {
		t.Fatalf("a flood of %d indicators gave bob %d events %v, want %v", flood, len(got), got, want)
	}
	if h := historyTexts(t, bob.c, a); len(h) != 2 {
		t.Fatalf("bob's history after the flood: %v", h)
	}
	// A Throttle later, the next "started" is shown again.
	clk.Advance(typing.Throttle)
	floodTyping(t, alice, b, 2)
	if ev := next(t, bob, func(e *TypingEvent) bool { return e.Peer == a }); !ev.Typing {
		t.Fatalf("after the throttle interval bob got %+v, want started", ev)
	}
}

// floodTyping makes u queue n indicators to peer, alternating started and
// stopped, past the SDK's rate limit: what a modified client can do.
func floodTyping(t *testing.T, u *user, peer string, n int) {
	t.Helper()
	self := u.c.core.Self()
	now := u.c.core.Now().Truncate(time.Millisecond)
	err := u.c.core.Update(func(tx *store.Tx) error {
		for i := range n {
			body, err := content.Encode(&content.Content{Version: content.Version, Sender: self.Name, SenderDevice: self.DeviceID,
				Recipient: peer, ID: core.NewContentID(), SentAt: now, Kind: content.KindTyping, Typing: i%2 == 0,
				AccessKey: u.c.core.AccessKey()})
			if err != nil {
				return err
			}
			if err := tx.Enqueue(&store.Outgoing{To: peer, Payload: core.EncodeOutItem(core.OutItem{Content: body}), CreatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	u.c.core.KickOutbox()
	u.flush()
}
