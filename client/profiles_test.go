package client

import (
	"errors"
	"testing"
	"time"

	"github.com/skymsg/sky/client/content"
)

// pngAvatar is the smallest PNG signature content.AvatarType accepts.
var pngAvatar = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

// TestProfiles: a profile reaches contacts and group members end to end
// and its updates propagate by version; it never goes to someone whose
// request the user has not accepted; a nickname wins over it; a profile
// name equal to another contact's name is marked; and the hostile cases:
// an older version replayed, a profile from a stranger, from a non-member
// naming a group.
func TestProfiles(t *testing.T) {
	s := startSkyd(t)
	clk := newClock()
	alice := newUser(t, s, testOptions(clk))
	bob := newUser(t, s, testOptions(clk))
	carol := newUser(t, s, testOptions(clk))
	a, b, c := alice.c.ID(), bob.c.ID(), carol.c.ID()

	if _, err := alice.c.SetProfile("Alice", pngAvatar); err != nil {
		t.Fatal(err)
	}
	// Alice writes to Bob: her profile goes with the message.
	alice.send(b, "hi, it's Alice")
	alice.flush()
	ev := next(t, bob, func(e *ProfileEvent) bool { return e.Peer == a })
	if ev.Name != "Alice" || ev.Version != 1 || !ev.Avatar {
		t.Fatalf("bob got %+v", ev)
	}
	// Bob has not accepted: his profile goes nowhere.
	if _, err := bob.c.SetProfile("Bob", nil); err != nil {
		t.Fatal(err)
	}
	if n := len(bob.outbox()); n != 0 {
		t.Fatalf("bob queued %d items to a stranger whose request he has not accepted", n)
	}
	if err := bob.c.Accept(a); err != nil {
		t.Fatal(err)
	}
	bob.flush()
	if ev := next(t, alice, func(e *ProfileEvent) bool { return e.Peer == b }); ev.Name != "Bob" {
		t.Fatalf("alice got %+v", ev)
	}

	// An update propagates; a replayed older version changes nothing.
	if _, err := alice.c.SetProfile("Alice Liddell", nil); err != nil {
		t.Fatal(err)
	}
	alice.flush()
	next(t, bob, func(e *ProfileEvent) bool { return e.Peer == a && e.Version == 2 })
	forge(t, alice, b, content.Content{Kind: content.KindProfile, Profile: &content.Profile{Version: 1, Name: "Old"}})
	alice.send(b, "sync")
	alice.flush()
	next(t, bob, func(e *MessageEvent) bool { return e.Message.Text == "sync" })
	if p, err := bob.c.ProfileOf(a); err != nil || p.Name != "Alice Liddell" || len(p.Avatar) != 0 {
		t.Fatalf("bob keeps %v, %v", p, err)
	}

	// A nickname wins; a profile name equal to it is marked as a clash.
	if err := bob.c.AddContact(a, "Ally"); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.c.SetProfile("ally", nil); err != nil {
		t.Fatal(err)
	}
	carol.send(b, "it's me, Ally")
	carol.flush()
	next(t, bob, func(e *ProfileEvent) bool { return e.Peer == c })
	names, err := bob.c.Names()
	if err != nil {
		t.Fatal(err)
	}
	if got := names[a].Display(); got != "Ally" {
		t.Errorf("alice shows as %q, want her nickname", got)
	}
	if n := names[c]; !n.Clash || n.Display() != "~ally (same name as another contact)" {
		t.Errorf("carol's clashing name shows as %q (%+v)", n.Display(), n)
	}

	// A stranger's profile is dropped; so is one naming a group the
	// sender does not share with the user.
	dave := newUser(t, s, testOptions(clk))
	forge(t, dave, b, content.Content{Kind: content.KindProfile, Profile: &content.Profile{Version: 1, Name: "Alice"}})
	refusedBy(t, bob, dave.c.ID(), "neither a contact nor a message request")
	forge(t, dave, b, content.Content{Kind: content.KindProfile, GroupID: content.GroupID{1}, Profile: &content.Profile{Version: 1, Name: "Alice"}})
	refusedBy(t, bob, dave.c.ID(), "not in it with you")
	if _, err := bob.c.ProfileOf(dave.c.ID()); !errors.Is(err, ErrNoProfile) {
		t.Fatalf("bob keeps a stranger's profile: %v", err)
	}

	// A group member who is not a contact gets it with the next group
	// message, and keeps it; Rejecting a request destroys its profile.
	g, err := bob.c.CreateGroup("Desk", []string{a, c})
	if err != nil {
		t.Fatal(err)
	}
	next(t, alice, func(e *GroupEvent) bool { return e.Group == g.ID })
	if _, err := bob.c.SendGroup(g.ID, "hello desk"); err != nil {
		t.Fatal(err)
	}
	bob.flush()
	if ev := next(t, carol, func(e *ProfileEvent) bool { return e.Peer == b }); ev.Name != "Bob" {
		t.Fatalf("carol got %+v", ev)
	}
	if _, err := alice.c.SendGroup(g.ID, "hi all"); err != nil {
		t.Fatal(err)
	}
	alice.flush()
	if ev := next(t, carol, func(e *ProfileEvent) bool { return e.Peer == a }); ev.Name != "Alice Liddell" {
		t.Fatalf("carol got alice's %+v", ev)
	}
}

// TestProfileLinkedDevices: a profile set on one device of an account
// shows on its other devices too (and reaches contacts once per version).
func TestProfileLinkedDevices(t *testing.T) {
	s := startSkyd(t)
	opts := testOptions(nil)
	opts.DeviceListAge = time.Millisecond
	alice, bob := newUser(t, s, opts), newUser(t, s, opts)
	a, b := alice.c.ID(), bob.c.ID()
	if err := bob.c.AddContact(a, "Alice"); err != nil {
		t.Fatal(err)
	}
	if err := alice.c.AddContact(b, "Bob"); err != nil {
		t.Fatal(err)
	}
	bob2 := linkUser(t, s, bob, opts)
	if _, err := bob.c.SetProfile("Bob Two-Phones", nil); err != nil {
		t.Fatal(err)
	}
	bob.flush()
	if ev := next(t, bob2, func(e *ProfileEvent) bool { return e.Peer == b }); ev.Name != "Bob Two-Phones" || ev.Version != 1 {
		t.Fatalf("bob's other device got %+v", ev)
	}
	if p, err := bob2.c.OwnProfile(); err != nil || p.Name != "Bob Two-Phones" {
		t.Fatalf("bob's other device's own profile: %v, %v", p, err)
	}
	if ev := next(t, alice, func(e *ProfileEvent) bool { return e.Peer == b }); ev.Name != "Bob Two-Phones" {
		t.Fatalf("alice got %+v", ev)
	}
	// The other device's next version follows on from it.
	if p, err := bob2.c.SetProfile("Bob", nil); err != nil || p.Version != 2 {
		t.Fatalf("bob2 set %v, %v", p, err)
	}
	bob2.flush()
	next(t, bob, func(e *ProfileEvent) bool { return e.Peer == b && e.Version == 2 })
	next(t, alice, func(e *ProfileEvent) bool { return e.Peer == b && e.Version == 2 })
}

// TestProfileLaterDevice: a device linked after the profile was set gets
// it with the user's next message.
func TestProfileLaterDevice(t *testing.T) {
	s := startSkyd(t)
	opts := testOptions(nil)
	opts.DeviceListAge = time.Millisecond
	alice, bob := newUser(t, s, opts), newUser(t, s, opts)
	a, b := alice.c.ID(), bob.c.ID()
	if err := alice.c.AddContact(b, "Bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.c.SetProfile("Bob Early", nil); err != nil {
		t.Fatal(err)
	}
	bob2 := linkUser(t, s, bob, opts)
	if _, err := bob2.c.OwnProfile(); !errors.Is(err, ErrNoProfile) {
		t.Fatalf("bob2 has a profile before any sync: %v", err)
	}
	bob.send(a, "hello")
	bob.flush()
	if ev := next(t, bob2, func(e *ProfileEvent) bool { return e.Peer == b }); ev.Name != "Bob Early" {
		t.Fatalf("bob2 got %+v", ev)
	}
}
