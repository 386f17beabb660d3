package client

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// linkUser links a new device to from's account through a real skyd and
// starts it.
func linkUser(t *testing.T, s *skyd, from *user, opts Options) *user {
	t.Helper()
	codes := make(chan string, 1)
	linked := make(chan error, 1)
	go func() {
		_, err := from.c.LinkDevice(ctxT(t), func(code string) { codes <- code })
		linked <- err
	}()
	var code string
	select {
	case code = <-codes:
	case err := <-linked:
		t.Fatalf("LinkDevice: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "home")
	c, err := Link(ctxT(t), dir, pass, s.url(), s.root, code, opts)
	if err != nil {
		t.Fatalf("Link: %v", err)
	}
	if err := <-linked; err != nil {
		t.Fatalf("LinkDevice: %v", err)
	}
	u := &user{t: t, dir: dir, c: c, opts: opts}
	t.Cleanup(func() { u.close() })
	u.start()
	return u
}

func deviceIDs(t *testing.T, u *user) (ids []uint32, current uint32) {
	t.Helper()
	ds, _, err := u.c.Devices()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		ids = append(ids, d.ID)
		if d.Current {
			current = d.ID
		}
	}
	return ids, current
}

// TestLinkedDevices: Bob links a second device through a real skyd; a
// message to Bob reaches both devices exactly once, Alice is told Bob added
// a device, a message from the new device reaches Alice; then Bob removes
// it: it erases itself, and Alice encrypts nothing more to it.
func TestLinkedDevices(t *testing.T) {
	s := startSkyd(t)
	opts := testOptions(nil)
	opts.DeviceListAge = time.Millisecond
	alice, bob := newUser(t, s, opts), newUser(t, s, opts)
	a, b := alice.c.ID(), bob.c.ID()
	if err := bob.c.AddContact(a, "Alice"); err != nil {
		t.Fatal(err)
	}
	alice.send(b, "before linking")
	texts(t, bob, 1)

	bob2 := linkUser(t, s, bob, opts)
	if ids, cur := deviceIDs(t, bob2); !slices.Equal(ids, []uint32{1, 2}) || cur != 2 || bob2.c.ID() != b {
		t.Fatalf("bob2: devices %v, current %d, ID %s", ids, cur, bob2.c.ID())
	}
	if ids, cur := deviceIDs(t, bob); !slices.Equal(ids, []uint32{1, 2}) || cur != 1 {
		t.Fatalf("bob: devices %v, current %d", ids, cur)
	}
	cs, err := bob2.c.Contacts()
	if err != nil || len(cs) != 1 || cs[0].ID != a || cs[0].Name != "Alice" {
		t.Fatalf("bob2's contacts = %+v, %v", cs, err)
	}

	canary := canaryText()
	alice.send(b, "to both "+canary)
	if e := next(t, alice, func(e *DeviceListEvent) bool { return e.Peer == b }); !slices.Equal(e.Added, []uint32{2}) {
		t.Fatalf("alice's device list event %+v", e)
	}
	for _, u := range []*user{bob, bob2} {
		if got := texts(t, u, 1); got[0] != "to both "+canary {
			t.Fatalf("%d got %q", u.c.core.DeviceID(), got)
		}
	}
	bob2.send(a, "from the new device")
	if got := texts(t, alice, 1); got[0] != "from the new device" {
		t.Fatalf("alice got %q", got)
	}
	// Both devices write, each numbering its messages on its own: all
	// arrive at once, and none is taken for a gap.
	for i, u := range []*user{bob, bob, bob2, bob, bob2, bob} {
		u.send(a, fmt.Sprint("interleaved ", i))
		u.flush()
	}
	got := map[string]bool{}
	deadline := time.After(15 * time.Second)
	for len(got) < 6 {
		select {
		case ev := <-alice.sub.Events():
			switch e := ev.(type) {
			case *GapEvent:
				t.Fatalf("alice saw a gap: %+v", e)
			case *MessageEvent:
				if e.Message.Kind == KindText {
					got[e.Message.Text] = true
				}
			}
		case <-deadline:
			t.Fatalf("alice got only %v", got)
		}
	}
	if n, err := alice.c.Unread(); err != nil || len(n) < 6 {
		t.Fatalf("alice's unread: %d, %v (messages held back as if for a gap?)", len(n), err)
	}
	// Sent-message sync: what either device sent is in both histories.
	want := []string{">from the new device"}
	for i := range 6 {
		want = append(want, fmt.Sprint(">interleaved ", i))
	}
	for _, u := range []*user{bob, bob2} {
		waitFor(t, fmt.Sprintf("device %d's history with alice to hold %q", u.c.DeviceID(), want), func() bool {
			h := historyTexts(t, u.c, a)
			for _, w := range want {
				if !slices.Contains(h, w) {
					return false
				}
			}
			return true
		})
	}

	// Settings in step: a verification and a renamed contact on device 1
	// reach device 2, end to end.
	if err := bob.c.Verify(ctxT(t), a, mustSN(t, bob.c, a).Digits); err != nil {
		t.Fatal(err)
	}
	if err := bob.c.AddContact(a, "Alice W"); err != nil {
		t.Fatal(err)
	}
	bob.flush()
	waitFor(t, "bob2 to see alice verified and renamed", func() bool {
		cs, _ := bob2.c.Contacts()
		return mustSN(t, bob2.c, a).Verified && len(cs) == 1 && cs[0].Name == "Alice W"
	})

	// Read on one device, read on the other (its timers start there too).
	un, err := bob.c.Unread()
	if err != nil || len(un) == 0 {
		t.Fatalf("bob's unread: %d, %v", len(un), err)
	}
	var ids []int64
	for _, m := range un {
		ids = append(ids, m.LocalID)
	}
	if un2, err := bob2.c.Unread(); err != nil || len(un2) == 0 {
		t.Fatalf("bob2 has nothing unread before: %d, %v", len(un2), err)
	}
	if _, err := bob.c.MarkRead(ids...); err != nil {
		t.Fatal(err)
	}
	bob.flush()
	waitFor(t, "bob2 to see what bob read as read", func() bool {
		un2, err := bob2.c.Unread()
		return err == nil && len(un2) == 0
	})

	// A message request rejected on one device is rejected on the other.
	carol := newUser(t, s, opts)
	carol.send(b, "hello stranger")
	texts(t, bob, 1)
	texts(t, bob2, 1)
	if err := bob.c.Reject(carol.c.ID()); err != nil {
		t.Fatal(err)
	}
	bob.flush()
	waitFor(t, "bob2 to reject carol too", func() bool {
		rs, err := bob2.c.Requests()
		return err == nil && len(rs) == 0
	})

	// A contact added and then removed on one device goes on the other
	// too, and with it the access key the removal replaced (contacts'
	// tokens must work for every device).
	dave := newUser(t, s, opts)
	if err := bob.c.AddContact(dave.c.ID(), "Dave"); err != nil {
		t.Fatal(err)
	}
	bob.flush()
	waitFor(t, "bob2 to have dave", func() bool { cs, _ := bob2.c.Contacts(); return len(cs) == 2 })
	if err := bob.c.RemoveContact(dave.c.ID()); err != nil {
		t.Fatal(err)
	}
	bob.flush()
	waitFor(t, "bob2 to drop dave and take the new access key", func() bool {
		cs, _ := bob2.c.Contacts()
		return len(cs) == 1 && string(bob2.c.core.AccessKey()) == string(bob.c.core.AccessKey())
	})

	if err := bob.c.SetTimer(a, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	bob.flush()
	waitFor(t, "bob2 to take the timer bob set", func() bool {
		d, _ := bob2.c.Timer(a)
		return d == 5*time.Minute
	})

	if err := bob.c.RemoveDevice(ctxT(t), 2); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-bob2.runErr:
		if !errors.Is(err, ErrRemoved) {
			t.Fatalf("bob2's Run = %v, want ErrRemoved", err)
		}
		bob2.stop = nil
	case <-time.After(15 * time.Second):
		t.Fatal("the removed device did not wipe itself")
	}
	if _, err := Open(context.Background(), bob2.dir, pass, opts); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("opening the removed device's store: %v, want ErrNoAccount (erased)", err)
	}
	// Crypto-erased as at panic: nothing of the canary, the contact or the
	// account's identity in its home.
	for _, hit := range scan(t, bob2.dir, needles(bob.c, alice.c.core.Local.KeyPair.Public.Bytes(), a, canary)) {
		t.Errorf("the removed device's home: %s", hit)
	}
	alice.send(b, "after removal")
	if e := next(t, alice, func(e *DeviceListEvent) bool { return e.Peer == b }); !slices.Equal(e.Removed, []uint32{2}) {
		t.Fatalf("alice's device list event %+v", e)
	}
	if got := texts(t, bob, 1); got[0] != "after removal" {
		t.Fatalf("bob got %q", got)
	}
	if devs, _ := alice.c.ContactDevices(b); !slices.Equal(devs, []uint32{1}) {
		t.Fatalf("alice sees bob's devices %v", devs)
	}
}

// TestLinkedDevicesGroup: a group made after Bob linked his second device
// reaches both: the group's changes go to every device in the 1:1
// sessions, and each group text (one sender-key message) to every device
// on the member's signed list, by multi-recipient send and one by one.
func TestLinkedDevicesGroup(t *testing.T) {
	s := startSkyd(t)
	opts := testOptions(nil)
	alice, bob, carol := newUser(t, s, opts), newUser(t, s, opts), newUser(t, s, opts)
	a, b, c := alice.c.ID(), bob.c.ID(), carol.c.ID()
	mutualContacts(t, alice, bob, carol)
	bob2 := linkUser(t, s, bob, opts)
	waitFor(t, "alice and carol to learn of bob's second device", func() bool {
		da, _ := alice.c.ContactDevices(b)
		dc, _ := carol.c.ContactDevices(b)
		return len(da) == 2 && len(dc) == 2
	})
	g, err := alice.c.CreateGroup("Desk", []string{b, c})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []*user{bob, bob2, carol} {
		groupChange(t, u, g.ID)
	}
	if _, err := alice.c.SendGroup(g.ID, "first"); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.c.SendGroup(g.ID, "second"); err != nil {
		t.Fatal(err)
	}
	want := sorted(a+": first", c+": second")
	for _, u := range []*user{bob, bob2} {
		if got := groupTexts(t, u, g.ID, 2); !eq(got, want) {
			t.Fatalf("device %d got %q", u.c.DeviceID(), got)
		}
	}
}

// TestLinkedDevicesGroupSentSync: a group text Bob sends from one device
// shows in the group's history on his other device too (sent-message
// sync, as for 1:1 texts), as his own outgoing text, and the members get
// it once.
func TestLinkedDevicesGroupSentSync(t *testing.T) {
	s := startSkyd(t)
	opts := testOptions(nil)
	alice, bob := newUser(t, s, opts), newUser(t, s, opts)
	a, b := alice.c.ID(), bob.c.ID()
	if err := alice.c.AddContact(b, ""); err != nil {
		t.Fatal(err)
	}
	if err := bob.c.AddContact(a, ""); err != nil {
		t.Fatal(err)
	}
	bob2 := linkUser(t, s, bob, opts)
	waitFor(t, "alice to learn of bob's second device", func() bool { d, _ := alice.c.ContactDevices(b); return len(d) == 2 })
	g, err := alice.c.CreateGroup("Desk", []string{b})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []*user{bob, bob2} {
		groupChange(t, u, g.ID)
	}
	if _, err := bob.c.SendGroup(g.ID, "from one"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob2.c.SendGroup(g.ID, "from two"); err != nil {
		t.Fatal(err)
	}
	if got, want := groupTexts(t, alice, g.ID, 2), sorted(b+": from one", b+": from two"); !eq(got, want) {
		t.Fatalf("alice got %q", got)
	}
	for _, w := range []struct {
		u    *user
		text string
	}{{bob2, "from one"}, {bob, "from two"}} {
		e := next(t, w.u, func(e *MessageEvent) bool { return e.Message.Group == g.ID && e.Message.Kind == KindText })
		if m := e.Message; m.Text != w.text || !m.Outgoing || m.From != b || m.GroupName != "Desk" {
			t.Fatalf("device %d: the synced group text %+v", w.u.c.DeviceID(), m)
		}
		ms, err := w.u.c.History(g.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range ms {
			if m.Kind == KindText {
				got = append(got, m.Text)
			}
		}
		if slices.Sort(got); !slices.Equal(got, []string{"from one", "from two"}) {
			t.Fatalf("device %d: the group's texts %q, want its own and the synced one", w.u.c.DeviceID(), got)
		}
	}
}

// TestLinkedDevicesGroupHandOff: a group made before Bob linked his second
// device reaches it: his first device hands it the group's signed state,
// the members send Bob their sender keys again once they see his new
// device, so it reads their next texts, and it can send to the group.
func TestLinkedDevicesGroupHandOff(t *testing.T) {
	s := startSkyd(t)
	opts := testOptions(nil)
	alice, bob, carol := newUser(t, s, opts), newUser(t, s, opts), newUser(t, s, opts)
	a, b, c := alice.c.ID(), bob.c.ID(), carol.c.ID()
	mutualContacts(t, alice, bob, carol)
	g, err := alice.c.CreateGroup("Desk", []string{b, c})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []*user{bob, carol} {
		groupChange(t, u, g.ID)
	}
	for _, u := range []*user{alice, carol} {
		if _, err := u.c.SendGroup(g.ID, "before"); err != nil {
			t.Fatal(err)
		}
	}
	if got := groupTexts(t, bob, g.ID, 2); !eq(got, sorted(a+": before", c+": before")) {
		t.Fatalf("bob got %q", got)
	}
	bob2 := linkUser(t, s, bob, opts)
	waitFor(t, "bob2 to hold the group", func() bool { _, err := bob2.c.Group(g.ID); return err == nil })
	if got := bob2.members(g.ID); !slices.Equal(got, bob.members(g.ID)) {
		t.Fatalf("bob2 sees members %q", got)
	}
	waitFor(t, "alice and carol to learn of bob's second device", func() bool {
		da, _ := alice.c.ContactDevices(b)
		dc, _ := carol.c.ContactDevices(b)
		return len(da) == 2 && len(dc) == 2
	})
	for _, u := range []*user{alice, carol} {
		if _, err := u.c.SendGroup(g.ID, "after"); err != nil {
			t.Fatal(err)
		}
	}
	if got := groupTexts(t, bob2, g.ID, 2); !eq(got, sorted(a+": after", c+": after")) {
		t.Fatalf("bob2 got %q", got)
	}
	if _, err := bob2.c.SendGroup(g.ID, "from the new device"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*user{alice, carol} {
		e := next(t, u, func(e *MessageEvent) bool { return e.Message.Group == g.ID && e.Message.From == b })
		if e.Message.Text != "from the new device" || e.Message.SenderDevice != bob2.c.DeviceID() {
			t.Fatalf("%s got %+v", u.c.ID(), e.Message)
		}
	}
}

// mutualContacts makes every one of users a contact of every other.
func mutualContacts(t *testing.T, users ...*user) {
	t.Helper()
	for _, u := range users {
		for _, v := range users {
			if u != v {
				if err := u.c.AddContact(v.c.ID(), ""); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
