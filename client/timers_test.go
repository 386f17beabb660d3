package client

import (
	"errors"
	"testing"
	"time"
)

// TestTimers: a new conversation takes the default (30 s after reading);
// either side changes the timer through the session and both show it; the
// sender's copy counts from sending and the recipient's from reading;
// concurrent changes settle on the same timer on both sides.
func TestTimers(t *testing.T) {
	s := startSkyd(t)
	clk := newClock()
	alice := newUser(t, s, testOptions(clk))
	bob := newUser(t, s, testOptions(clk))
	a, b := alice.c.ID(), bob.c.ID()

	m := alice.send(b, "hello")
	alice.flush()
	if h, _ := alice.c.History(b, 1); len(h) == 1 {
		m = h[0] // the countdown starts once the server has it
	}
	if m.Timer != DefaultTimer || !m.ExpiresAt.Equal(m.SentAt.Add(DefaultTimer)) {
		t.Fatalf("first message: timer %v, expires %v (sent %v)", m.Timer, m.ExpiresAt, m.SentAt)
	}
	got := next(t, bob, func(e *MessageEvent) bool { return true }).Message
	if got.Timer != DefaultTimer || !got.ExpiresAt.IsZero() {
		t.Fatalf("received copy: timer %v, expires %v (counts from reading)", got.Timer, got.ExpiresAt)
	}
	if d, _ := bob.c.Timer(a); d != DefaultTimer {
		t.Fatalf("bob's conversation timer %v", d)
	}
	if err := bob.c.Accept(a); err != nil {
		t.Fatal(err)
	}

	for _, bad := range []time.Duration{time.Second, 4 * time.Second, 5*time.Second + time.Millisecond, 4*7*24*time.Hour + time.Second, -time.Second} {
		if err := alice.c.SetTimer(b, bad); !errors.Is(err, ErrInvalidTimer) {
			t.Errorf("SetTimer(%v): %v", bad, err)
		}
	}
	// Bob changes it; Alice sees the change.
	if err := bob.c.SetTimer(a, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	te := next(t, alice, func(e *TimerEvent) bool { return true })
	if te.Timer != 5*time.Second || te.By != b || te.Conversation != b {
		t.Fatalf("timer event %+v", te)
	}
	notice := next(t, alice, func(e *MessageEvent) bool { return e.Message.Kind == KindTimer }).Message
	if notice.Timer != 5*time.Second || notice.From != b {
		t.Fatalf("notice %+v", notice)
	}
	if d, _ := alice.c.Timer(b); d != 5*time.Second {
		t.Fatalf("alice's timer %v", d)
	}

	// A 5-second message: the sender's copy goes 5 s after sending, the
	// recipient's 5 s after reading.
	sent := alice.send(b, "self-destructing")
	in := next(t, bob, func(e *MessageEvent) bool { return e.Message.Kind == KindText }).Message
	if in.Timer != 5*time.Second {
		t.Fatalf("timer of the received copy %v", in.Timer)
	}
	clk.Advance(6 * time.Second)
	// (the client's own expiry loop may have run first)
	if _, err := alice.c.Expire(); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.c.Expire(); err != nil {
		t.Fatal(err)
	}
	if h := historyTexts(t, alice.c, b); contains(h, ">self-destructing") {
		t.Fatalf("alice still has it: %q", h)
	}
	if h := historyTexts(t, bob.c, a); !contains(h, "<self-destructing") {
		t.Fatalf("bob lost it before reading: %q", h)
	}
	if _, err := bob.c.MarkRead(in.LocalID); err != nil {
		t.Fatal(err)
	}
	clk.Advance(4 * time.Second)
	bob.c.Expire()
	if h := historyTexts(t, bob.c, a); !contains(h, "<self-destructing") {
		t.Fatalf("bob lost it 4 s after reading: %q", h)
	}
	clk.Advance(2 * time.Second)
	bob.c.Expire()
	if h := historyTexts(t, bob.c, a); contains(h, "<self-destructing") {
		t.Fatalf("bob still has it 6 s after reading: %q", h)
	}
	_ = sent

	// Both change it while Bob is offline: they settle on the same timer.
	bob.pause()
	if err := alice.c.SetTimer(b, time.Hour); err != nil {
		t.Fatal(err)
	}
	alice.flush()
	if err := bob.c.SetTimer(a, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	bob.start()
	bob.flush()
	deadline := time.Now().Add(10 * time.Second)
	for {
		da, _ := alice.c.Timer(b)
		db, _ := bob.c.Timer(a)
		if da == db && len(bob.outbox()) == 0 && len(alice.outbox()) == 0 {
			want := time.Hour
			if b > a {
				want = 10 * time.Second
			}
			if da != want {
				t.Fatalf("settled on %v, want %v", da, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timers did not settle: alice %v, bob %v", da, db)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The account default applies to new conversations.
	if err := alice.c.SetDefaultTimer(0); err != nil {
		t.Fatal(err)
	}
	carol := newUser(t, s, testOptions(clk))
	if m := alice.send(carol.c.ID(), "no timer"); m.Timer != 0 || !m.ExpiresAt.IsZero() {
		t.Fatalf("with the default off: timer %v, expires %v", m.Timer, m.ExpiresAt)
	}
	if got := next(t, carol, func(e *MessageEvent) bool { return true }).Message; got.Timer != 0 {
		t.Fatalf("carol's copy has timer %v", got.Timer)
	}
	if d, _ := alice.c.DefaultTimer(); d != 0 {
		t.Fatalf("default %v", d)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
