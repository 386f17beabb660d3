package client

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/client/actions"
	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/store"
)

// forge makes u send peer an action the SDK would refuse to make (an edit
// or deletion of someone else's message, a reaction to a message that does
// not exist), straight through u's session: what a hostile contact can do.
func forge(t *testing.T, u *user, peer string, ct content.Content) {
	t.Helper()
	err := u.c.core.Update(func(tx *store.Tx) error { return u.c.core.EnqueueControl(tx, peer, &ct) })
	if err != nil {
		t.Fatal(err)
	}
	u.c.core.KickOutbox()
	u.flush()
}

func refusedBy(t *testing.T, u *user, from, why string) {
	t.Helper()
	next(t, u, func(e *DroppedEvent) bool { return e.From == from && strings.Contains(e.Reason, why) })
}

func findMsg(t *testing.T, u *user, conv, id string) (Message, bool) {
	t.Helper()
	h, err := u.c.History(conv, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range h {
		if m.ID == id {
			return m, true
		}
	}
	return Message{}, false
}

// TestActions: replies, reactions, edits and deletion for everyone between
// two contacts through a real skyd, and the hostile cases: a forged edit
// and deletion by the non-author, a reaction to a message that does not
// exist, a reply quoting a message the recipient never had.
func TestActions(t *testing.T) {
	s := startSkyd(t)
	clk := newClock()
	alice := newUser(t, s, testOptions(clk))
	bob := newUser(t, s, testOptions(clk))
	a, b := alice.c.ID(), bob.c.ID()
	orig := alice.send(b, "lunch at noon?")
	alice.flush()
	got := next(t, bob, func(e *MessageEvent) bool { return e.Message.ID == orig.ID }).Message
	if err := bob.c.Accept(a); err != nil {
		t.Fatal(err)
	}

	// A reply quotes the original with an excerpt.
	r, err := bob.c.Reply(a, got.ID, "yes")
	if err != nil || r.Quote == nil || r.Quote.ID != orig.ID {
		t.Fatalf("reply %+v: %v", r, err)
	}
	in := next(t, alice, func(e *MessageEvent) bool { return e.Message.ID == r.ID }).Message
	if in.Quote == nil || in.Quote.Missing || in.Quote.Excerpt != "lunch at noon?" || in.Quote.From != a {
		t.Fatalf("alice sees the quote as %+v", in.Quote)
	}

	// Reactions: one per person, changed, removed, aggregated.
	if err := bob.c.React(a, orig.ID, "👍"); err != nil {
		t.Fatal(err)
	}
	next(t, alice, func(e *ActionEvent) bool { return e.Action == "reaction" && e.Emoji == "👍" && e.By == b })
	if err := bob.c.React(a, orig.ID, "🎉"); err != nil {
		t.Fatal(err)
	}
	next(t, alice, func(e *ActionEvent) bool { return e.Emoji == "🎉" })
	if err := alice.c.React(b, orig.ID, "❤"); err != nil {
		t.Fatal(err)
	}
	next(t, bob, func(e *ActionEvent) bool { return e.Emoji == "❤" })
	for _, u := range []*user{alice, bob} {
		m, _ := findMsg(t, u, map[*user]string{alice: b, bob: a}[u], orig.ID)
		if len(m.Reactions) != 2 || m.Reactions[0].Emoji != "🎉" || m.Reactions[0].By != b || m.Reactions[1].Emoji != "❤" {
			t.Fatalf("%s: reactions %+v", u.c.ID(), m.Reactions)
		}
	}
	if err := bob.c.React(a, orig.ID, ""); err != nil {
		t.Fatal(err)
	}
	next(t, alice, func(e *ActionEvent) bool { return e.Action == "reaction" && e.Emoji == "" && e.By == b })
	if m, _ := findMsg(t, alice, b, orig.ID); len(m.Reactions) != 1 || m.Reactions[0].By != a {
		t.Fatalf("after removal: %+v", m.Reactions)
	}

	// Only the author edits; the edit shows as edited, with the old text kept.
	if err := bob.c.Edit(a, orig.ID, "mine now"); !errors.Is(err, actions.ErrNotAuthor) {
		t.Fatalf("bob edits alice's message: %v", err)
	}
	if err := alice.c.Edit(b, orig.ID, "lunch at one?"); err != nil {
		t.Fatal(err)
	}
	next(t, bob, func(e *ActionEvent) bool { return e.Action == "edit" && e.Text == "lunch at one?" })
	m, _ := findMsg(t, bob, a, orig.ID)
	if m.Text != "lunch at one?" || m.EditedAt.IsZero() || len(m.Edits) != 1 || m.Edits[0].Text != "lunch at noon?" {
		t.Fatalf("bob's copy after the edit: %q edited %v %+v", m.Text, m.EditedAt, m.Edits)
	}

	// Hostile: Bob forges an edit and a deletion of Alice's message, and a
	// reaction to a message that never existed; Alice refuses each, visibly.
	target, _ := content.ParseID(orig.ID)
	forge(t, bob, a, content.Content{Kind: content.KindEdit, Target: target, Text: "forged"})
	refusedBy(t, alice, b, "forged edit")
	forge(t, bob, a, content.Content{Kind: content.KindDelete, Target: target})
	refusedBy(t, alice, b, "forged delete")
	forge(t, bob, a, content.Content{Kind: content.KindReaction, Target: content.ID{1, 2, 3}, Text: "👎"})
	refusedBy(t, alice, b, "does not have")
	if m, ok := findMsg(t, alice, b, orig.ID); !ok || m.Text != "lunch at one?" {
		t.Fatalf("alice's message after the forgeries: %v %q", ok, m.Text)
	}
	// A reply quoting a message Alice never had.
	forgeQuote := content.Content{Kind: content.KindText, Text: "remember this?", Timer: DefaultTimer, Quote: &content.Quote{ID: content.ID{9}, Excerpt: "a lie"}}
	bq, err := bob.c.core.SendQuoting(a, forgeQuote.Text, nil, forgeQuote.Quote)
	if err != nil {
		t.Fatal(err)
	}
	in = next(t, alice, func(e *MessageEvent) bool { return e.Message.ID == bq.ID }).Message
	if in.Quote == nil || !in.Quote.Missing || in.Quote.Excerpt != "" {
		t.Fatalf("a quote of a message alice never had: %+v", in.Quote)
	}

	// Deletion for everyone: gone at both, key and all; a reply to it
	// then shows the original as not available.
	if err := bob.c.DeleteForEveryone(a, orig.ID); !errors.Is(err, actions.ErrNotAuthor) {
		t.Fatalf("bob deletes alice's message: %v", err)
	}
	if err := alice.c.DeleteForEveryone(b, orig.ID); err != nil {
		t.Fatal(err)
	}
	next(t, bob, func(e *ActionEvent) bool { return e.Action == "delete" && e.MessageID == orig.ID })
	for _, u := range []*user{alice, bob} {
		conv := map[*user]string{alice: b, bob: a}[u]
		if _, ok := findMsg(t, u, conv, orig.ID); ok {
			t.Fatalf("%s still has the deleted message", u.c.ID())
		}
		m, ok := findMsg(t, u, conv, r.ID)
		if !ok || m.Quote == nil || !m.Quote.Missing || m.Quote.Excerpt != "" {
			t.Fatalf("%s: the reply to the deleted message: %+v", u.c.ID(), m.Quote)
		}
	}
	if err := alice.c.React(b, orig.ID, "👍"); !errors.Is(err, actions.ErrNoSuchMessage) {
		t.Fatalf("reacting to a deleted message: %v", err)
	}

	// The limit: a day after sending, no edit or deletion (timer off, so
	// the message is still there).
	if err := alice.c.SetTimer(b, 0); err != nil {
		t.Fatal(err)
	}
	late := alice.send(b, "old news")
	alice.flush()
	next(t, bob, func(e *MessageEvent) bool { return e.Message.ID == late.ID })
	clk.Advance(actions.DeleteLimit + time.Minute)
	if err := alice.c.DeleteForEveryone(b, late.ID); !errors.Is(err, actions.ErrTooLate) {
		t.Fatalf("a late deletion: %v", err)
	}
	if err := alice.c.Edit(b, late.ID, "new news"); !errors.Is(err, actions.ErrTooLate) {
		t.Fatalf("a late edit: %v", err)
	}
}

// TestGroupActions: the same in a group: every member sees a reaction, an
// edit and a deletion for everyone by the author; a member's forged edit
// of another member's message is refused.
func TestGroupActions(t *testing.T) {
	s := startSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	carol := newUser(t, s, testOptions(nil))
	a, b, c := alice.c.ID(), bob.c.ID(), carol.c.ID()
	g, err := alice.c.CreateGroup("Desk", []string{b, c})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []*user{bob, carol} {
		groupChange(t, u, g.ID)
	}
	m, err := alice.c.SendGroup(g.ID, "draft one")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []*user{bob, carol} {
		next(t, u, func(e *MessageEvent) bool { return e.Message.ID == m.ID })
	}
	r, err := bob.c.Reply(g.ID, m.ID, "looks good")
	if err != nil {
		t.Fatal(err)
	}
	in := next(t, carol, func(e *MessageEvent) bool { return e.Message.ID == r.ID }).Message
	if in.Quote == nil || in.Quote.Missing || in.Quote.Excerpt != "draft one" || in.Quote.From != a {
		t.Fatalf("carol sees the quote as %+v", in.Quote)
	}
	if err := carol.c.React(g.ID, m.ID, "👀"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*user{alice, bob} {
		next(t, u, func(e *ActionEvent) bool { return e.Emoji == "👀" && e.By == c && e.Conversation == g.ID })
	}
	// Carol forges an edit of Alice's message to Bob: refused.
	target, _ := content.ParseID(m.ID)
	gid, _ := content.ParseGroupID(g.ID)
	forge(t, carol, b, content.Content{Kind: content.KindEdit, Target: target, Text: "forged", GroupID: gid})
	refusedBy(t, bob, c, "forged edit")
	if err := alice.c.Edit(g.ID, m.ID, "draft two"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*user{bob, carol} {
		next(t, u, func(e *ActionEvent) bool { return e.Action == "edit" && e.Text == "draft two" })
		got, _ := findMsg(t, u, g.ID, m.ID)
		if got.Text != "draft two" || got.EditedAt.IsZero() || len(got.Reactions) != 1 {
			t.Fatalf("%s: %q edited %v reactions %+v", u.c.ID(), got.Text, got.EditedAt, got.Reactions)
		}
	}
	if err := alice.c.DeleteForEveryone(g.ID, m.ID); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*user{bob, carol} {
		next(t, u, func(e *ActionEvent) bool { return e.Action == "delete" })
		if _, ok := findMsg(t, u, g.ID, m.ID); ok {
			t.Fatalf("%s still has the deleted group message", u.c.ID())
		}
	}
}
