package client

import (
	"fmt"
	"testing"
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
)

// receiptsOf returns who confirmed the user's group text id, as "member:d"
// or "member:r", from u's history.
func receiptsOf(t testing.TB, u *user, gid, id string) (map[string]string, State) {
	t.Helper()
	h, err := u.c.History(gid, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range h {
		if m.ID != id {
			continue
		}
		out := map[string]string{}
		for _, r := range m.Receipts {
			out[r.By] = "d"
			if r.Read {
				out[r.By] = "r"
			}
		}
		return out, m.State
	}
	t.Fatalf("%s has no message %s in %s", u.c.ID(), id, gid)
	return nil, 0
}

// waitReceipt waits for u's receipt events for group gid from each of
// members.
func waitReceipt(t testing.TB, u *user, gid string, st State, members ...string) {
	t.Helper()
	left := map[string]bool{}
	for _, m := range members {
		left[m] = true
	}
	for len(left) > 0 {
		e := next(t, u, func(e *ReceiptEvent) bool { return e.Conversation == gid && left[e.By] && e.State == st })
		delete(left, e.By)
	}
}

// TestGroupReceipts: members confirm a group text to its author only; the
// author sees, per member, who received and who read it; the text's own
// state follows the slowest member; an admin switches receipts off and
// members stop sending them.
func TestGroupReceipts(t *testing.T) {
	s := startSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	carol := newUser(t, s, testOptions(nil))
	a, b, c := alice.c.ID(), bob.c.ID(), carol.c.ID()
	for _, u := range []*user{bob, carol} { // a stranger's group is a request: no receipts
		if err := u.c.AddContact(a, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	g, err := alice.c.CreateGroup("Desk", []string{b, c})
	if err != nil {
		t.Fatal(err)
	}
	gid := g.ID
	for _, u := range []*user{bob, carol} {
		groupChange(t, u, gid)
	}
	if rs, err := bob.c.GroupReceipts(gid); err != nil || !rs.On || rs.Setting != ReceiptsDefault {
		t.Fatalf("a small group's receipts: %+v, %v", rs, err)
	}
	m, err := alice.c.SendGroup(gid, "story at six")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []*user{bob, carol} {
		groupTexts(t, u, gid, 1)
	}
	waitReceipt(t, alice, gid, Delivered, b, c)
	if got, st := receiptsOf(t, alice, gid, m.ID); got[b] != "d" || got[c] != "d" || st != Delivered {
		t.Fatalf("after delivery: %v, %s", got, st)
	}

	// Bob reads it: alice sees bob read, carol only delivered.
	read(t, bob, gid)
	waitReceipt(t, alice, gid, Read, b)
	if got, st := receiptsOf(t, alice, gid, m.ID); got[b] != "r" || got[c] != "d" || st != Delivered {
		t.Fatalf("after bob read: %v, %s", got, st)
	}
	read(t, carol, gid)
	waitReceipt(t, alice, gid, Read, c)
	if got, st := receiptsOf(t, alice, gid, m.ID); got[b] != "r" || got[c] != "r" || st != Read {
		t.Fatalf("after both read: %v, %s", got, st)
	}
	// Nobody but the author hears of it: bob's copy of the text has no
	// receipts (carol's went to alice only).
	if h, _ := bob.c.History(gid, 0); len(h) == 0 || len(h[len(h)-1].Receipts) != 0 {
		t.Fatalf("bob's copy shows receipts: %+v", h)
	}

	// Only an admin switches them; off, members send none.
	if _, err := bob.c.SetGroupReceipts(gid, ReceiptsOff); err == nil {
		t.Fatal("a member who is not an admin switched receipts")
	}
	if rs, err := alice.c.SetGroupReceipts(gid, ReceiptsOff); err != nil || rs.On {
		t.Fatalf("switching off: %+v, %v", rs, err)
	}
	alice.flush()
	waitFor(t, "bob hears receipts are off", func() bool { rs, _ := bob.c.GroupReceipts(gid); return !rs.On && rs.By == a })
	waitFor(t, "carol hears receipts are off", func() bool { rs, _ := carol.c.GroupReceipts(gid); return !rs.On && rs.By == a })
	m2, err := alice.c.SendGroup(gid, "no receipts now")
	if err != nil {
		t.Fatal(err)
	}
	groupTexts(t, bob, gid, 1)
	read(t, bob, gid)
	bob.flush()
	if n := groupReceiptItems(t, bob); n != 0 {
		t.Fatalf("bob queued %d receipts while they are off", n)
	}
	if got, _ := receiptsOf(t, alice, gid, m2.ID); len(got) != 0 {
		t.Fatalf("receipts while off: %v", got)
	}
}

// read marks u's unread messages of conv read.
func read(t testing.TB, u *user, conv string) {
	t.Helper()
	h, err := u.c.History(conv, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, m := range h {
		if !m.Outgoing && m.ReadAt.IsZero() {
			ids = append(ids, m.LocalID)
		}
	}
	if _, err := u.c.MarkRead(ids...); err != nil {
		t.Fatal(err)
	}
}

// groupReceiptItems counts u's queued receipts for group texts.
func groupReceiptItems(t testing.TB, u *user) int {
	t.Helper()
	n := 0
	for _, it := range u.outbox() {
		if ct := outContent(t, it); ct != nil && ct.Kind == content.KindReceipt && ct.GroupID != (content.GroupID{}) {
			n++
		}
	}
	return n
}

func outContent(t testing.TB, it store.Outgoing) *content.Content {
	t.Helper()
	item, err := core.DecodeOutItem(it.Payload)
	if err != nil || item.Content == nil {
		return nil
	}
	ct, err := content.Decode(item.Content)
	if err != nil {
		return nil
	}
	return ct
}

// TestGroupReceiptsBatched: a member's receipts to one author wait for
// their delay as one item; later ones join it, and reading takes the
// messages out of the waiting delivery receipt, so three texts received
// and read cost the author one message.
func TestGroupReceiptsBatched(t *testing.T) {
	s := startSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	slow := testOptions(nil)
	slow.ReceiptDelay = time.Hour // nothing goes until the test says
	bob := newUser(t, s, slow)
	a, b := alice.c.ID(), bob.c.ID()
	if err := bob.c.AddContact(a, "alice"); err != nil {
		t.Fatal(err)
	}
	g, err := alice.c.CreateGroup("Desk", []string{b})
	if err != nil {
		t.Fatal(err)
	}
	groupChange(t, bob, g.ID)
	var ids []string
	for i := range 3 {
		m, err := alice.c.SendGroup(g.ID, fmt.Sprint("text ", i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
		alice.flush()
		groupTexts(t, bob, g.ID, 1) // one push each
	}
	rx := groupReceipts(t, bob)
	if len(rx) != 1 || rx[0].Receipt != content.Delivered || len(rx[0].IDs) != 3 {
		t.Fatalf("three deliveries queued as %d receipts: %+v", len(rx), rx)
	}
	read(t, bob, g.ID)
	rx = groupReceipts(t, bob)
	if len(rx) != 1 || rx[0].Receipt != content.Read || len(rx[0].IDs) != 3 {
		t.Fatalf("after reading, %d receipts: %+v", len(rx), rx)
	}
	// Due now: one message tells alice all three were read.
	due(t, bob)
	waitReceipt(t, alice, g.ID, Read, b)
	for _, id := range ids {
		if got, st := receiptsOf(t, alice, g.ID, id); got[b] != "r" || st != Read {
			t.Fatalf("%s: %v, %s", id, got, st)
		}
	}
}

// groupReceipts returns u's queued receipts for group texts.
func groupReceipts(t testing.TB, u *user) []*content.Content {
	t.Helper()
	var out []*content.Content
	for _, it := range u.outbox() {
		if ct := outContent(t, it); ct != nil && ct.Kind == content.KindReceipt && ct.GroupID != (content.GroupID{}) {
			out = append(out, ct)
		}
	}
	return out
}

// due makes u's waiting receipts due now and sends them.
func due(t testing.TB, u *user) {
	t.Helper()
	err := u.c.core.Update(func(tx *store.Tx) error {
		items, err := tx.Outbox()
		for _, it := range items {
			item, derr := core.DecodeOutItem(it.Payload)
			if err != nil || derr != nil || item.NotBefore.IsZero() {
				continue
			}
			item.NotBefore = time.Now().Add(-time.Second)
			it.Payload = core.EncodeOutItem(item)
			err = tx.UpdateOutgoing(it)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	u.c.core.KickOutbox()
	u.flush()
}

// TestGroupReceiptsHostile: receipts count only from a member, for the
// user's own texts in that group, once per member (delivered, then read):
// a non-member's are dropped, a member's for someone else's text change
// nothing, and a member repeating them (a flood) keeps one entry.
func TestGroupReceiptsHostile(t *testing.T) {
	s := startSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	carol := newUser(t, s, testOptions(nil))
	dave := newUser(t, s, testOptions(nil)) // alice's contact, not in the group
	a, b, c, d := alice.c.ID(), bob.c.ID(), carol.c.ID(), dave.c.ID()
	for _, u := range []*user{bob, carol, dave} {
		if err := u.c.AddContact(a, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	if err := alice.c.AddContact(d, "dave"); err != nil {
		t.Fatal(err)
	}
	dave.send(a, "hi") // a session both ways
	texts(t, alice, 1)
	g, err := alice.c.CreateGroup("Desk", []string{b, c})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []*user{bob, carol} {
		groupChange(t, u, g.ID)
	}
	m, err := alice.c.SendGroup(g.ID, "mine")
	if err != nil {
		t.Fatal(err)
	}
	groupTexts(t, carol, g.ID, 1)
	waitReceipt(t, alice, g.ID, Delivered, c)
	gid, _ := content.ParseGroupID(g.ID)
	mid, _ := content.ParseID(m.ID)
	forge := func(u *user, typ content.ReceiptType, ids ...content.ID) {
		t.Helper()
		err := u.c.core.Update(func(tx *store.Tx) error {
			return u.c.core.EnqueueGroupReceipt(tx, a, gid, typ, ids, time.Now())
		})
		if err != nil {
			t.Fatal(err)
		}
		u.c.core.KickOutbox()
		u.flush()
	}

	// Dave is not in the group: dropped, nothing recorded.
	forge(dave, content.Read, mid)
	next(t, alice, func(e *DroppedEvent) bool { return e.From == d })
	if got, _ := receiptsOf(t, alice, g.ID, m.ID); got[d] != "" {
		t.Fatalf("a non-member's receipt counted: %v", got)
	}
	// Bob floods: the same read many times and a text that is not
	// alice's; one entry, read.
	for range 5 {
		forge(bob, content.Read, mid, content.ID{1, 2, 3})
	}
	waitReceipt(t, alice, g.ID, Read, b)
	if got, _ := receiptsOf(t, alice, g.ID, m.ID); len(got) != 2 || got[b] != "r" || got[c] != "d" {
		t.Fatalf("after a flood: %v", got)
	}
	// A delivery after the read does not move bob back.
	forge(bob, content.Delivered, mid)
	time.Sleep(100 * time.Millisecond)
	if got, _ := receiptsOf(t, alice, g.ID, m.ID); got[b] != "r" {
		t.Fatalf("moved back: %v", got)
	}
}
