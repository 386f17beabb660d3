package client

import (
	"strings"
	"testing"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/group"
	"github.com/skymsg/sky/client/store"
)

// TestEvilRemovedAdminForksInvitee: an admin, once removed, keeps the copy
// of the group from when it was one and, from it, signs a branch that adds
// a newcomer (numbered well ahead of the real group), which it sends to the
// newcomer through its real session. The branch verifies (the admin was
// one when it forked), and the real members never write to the newcomer.
// The newcomer asks the other members of its copy to confirm its head;
// they hold the version that removed the admin, so the newcomer takes that
// copy, in which it is no member, and is told the invitation was a fork.
// (Without the confirmation, dave stays in the rival copy.)
func TestEvilRemovedAdminForksInvitee(t *testing.T) {
	s := startSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	carol := newUser(t, s, testOptions(nil))
	dave := newUser(t, s, testOptions(nil))
	a, b, c, d := alice.c.ID(), bob.c.ID(), carol.c.ID(), dave.c.ID()
	g, err := alice.c.CreateGroup("Desk", []string{b, c})
	if err != nil {
		t.Fatal(err)
	}
	waitChange(t, bob, g.ID, func(ch GroupChange) bool { return ch.Joined })
	waitChange(t, carol, g.ID, func(ch GroupChange) bool { return ch.Joined })
	if _, err := alice.c.SetGroupAdmin(g.ID, b, true); err != nil {
		t.Fatal(err)
	}
	waitChange(t, bob, g.ID, func(ch GroupChange) bool { return eq(ch.AdminsAdded, []string{b}) })
	waitChange(t, carol, g.ID, func(ch GroupChange) bool { return eq(ch.AdminsAdded, []string{b}) })
	var kept *group.Record // bob's copy while he is an admin
	bob.c.core.View(func(tx *store.Tx) (err error) {
		kept, err = group.FindRecord(tx, g.ID)
		return err
	})
	if _, err := alice.c.SetGroupAdmin(g.ID, b, false); err != nil {
		t.Fatal(err)
	}
	waitChange(t, carol, g.ID, func(ch GroupChange) bool { return eq(ch.AdminsRemoved, []string{b}) })

	// bob signs "add dave" from the copy he kept, numbered ahead.
	ch, err := kept.Propose(b, func(st *group.State) { st.Members = append(st.Members, d) })
	if err != nil {
		t.Fatal(err)
	}
	ch.Version += 5
	if err := kept.Seal(&ch, &group.Signer{ID: b, Key: bob.c.core.Local.KeyPair.Curve()}); err != nil {
		t.Fatal(err)
	}
	proof, err := ch.Proof.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	err = bob.c.core.Update(func(tx *store.Tx) error {
		body := &content.Group{Version: ch.Version, Name: ch.Name, Members: ch.Members, Admins: ch.Admins, Proof: proof}
		return bob.c.core.EnqueueControl(tx, d, &content.Content{Kind: content.KindGroupUpdate, GroupID: ch.ID, Timer: ch.Timer, Group: body})
	})
	if err != nil {
		t.Fatal(err)
	}
	bob.c.core.KickOutbox()
	bob.flush()
	if ch := waitChange(t, dave, g.ID, func(ch GroupChange) bool { return ch.Joined }); ch.By != b {
		t.Fatalf("dave joined the rival copy from %s", ch.By)
	}

	e := next(t, dave, func(e *DroppedEvent) bool { return strings.Contains(e.Reason, "invitation to the group") })
	if !strings.Contains(e.Reason, "does not list you") {
		t.Fatalf("dave was not told why: %s", e.Reason)
	}
	got, err := dave.c.Group(g.ID)
	if err != nil || got.Member || got.Unconfirmed || !eq(got.Members, sorted(a, b, c)) || got.Version != 3 {
		t.Fatalf("dave holds %+v (%v)", got, err)
	}
	if _, err := dave.c.SendGroup(g.ID, "hello"); err == nil {
		t.Fatal("dave can still write to the rival copy")
	}
}

// TestGroupInviteConfirmed: an invitation from the real admin shows as
// unconfirmed while the only other member is offline, and is confirmed by
// that member's head once it is back.
func TestGroupInviteConfirmed(t *testing.T) {
	s := startSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	dave := newUser(t, s, testOptions(nil))
	b, d := bob.c.ID(), dave.c.ID()
	g, err := alice.c.CreateGroup("Desk", []string{b})
	if err != nil {
		t.Fatal(err)
	}
	groupChange(t, bob, g.ID)
	bob.pause()
	if _, err := alice.c.AddMembers(g.ID, d); err != nil {
		t.Fatal(err)
	}
	waitChange(t, dave, g.ID, func(ch GroupChange) bool { return ch.Joined })
	dave.flush()
	if got, err := dave.c.Group(g.ID); err != nil || !got.Member || !got.Unconfirmed {
		t.Fatalf("dave's copy while bob is offline: %+v (%v)", got, err)
	}
	if gs, err := dave.c.Groups(); err != nil || len(gs) != 1 || !gs[0].Unconfirmed {
		t.Fatalf("dave's list: %+v (%v)", gs, err)
	}
	bob.start()
	waitFor(t, "dave's copy confirmed", func() bool {
		got, err := dave.c.Group(g.ID)
		return err == nil && got.Member && !got.Unconfirmed
	})
	if _, err := dave.c.SendGroup(g.ID, "hi"); err != nil {
		t.Fatal(err)
	}
	if got := groupTexts(t, bob, g.ID, 1); !eq(got, []string{d + ": hi"}) {
		t.Fatalf("bob got %q", got)
	}
}

// TestEvilRemovedMemberLearnsNothing: a member, once removed, replays the
// copy of the group it kept (validly signed, listing it) to a member after
// a newcomer joined. The member refuses it and, since its own history shows
// the sender removed, answers nothing: the removed member never learns who
// joined after it. (Without the check, carol answered with her state and
// proof, naming erin.)
func TestEvilRemovedMemberLearnsNothing(t *testing.T) {
	s := startSkyd(t)
	ev := startEvil(t, s)
	var rec sendsRecorder // what carol sends
	ev.set(nil, rec.toServer)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	carol := newUserAt(t, s, ev.url(), testOptions(nil))
	erin := newUser(t, s, testOptions(nil))
	b, c, e := bob.c.ID(), carol.c.ID(), erin.c.ID()
	g, err := alice.c.CreateGroup("Desk", []string{b, c})
	if err != nil {
		t.Fatal(err)
	}
	waitChange(t, bob, g.ID, func(ch GroupChange) bool { return ch.Joined })
	waitChange(t, carol, g.ID, func(ch GroupChange) bool { return ch.Joined })
	if _, err := alice.c.RenameGroup(g.ID, "Desk 2"); err != nil {
		t.Fatal(err)
	}
	waitChange(t, bob, g.ID, func(ch GroupChange) bool { return ch.Renamed })
	var kept *group.Record // bob's copy while he is a member
	bob.c.core.View(func(tx *store.Tx) (err error) {
		kept, err = group.FindRecord(tx, g.ID)
		return err
	})
	if _, err := alice.c.RemoveMembers(g.ID, b); err != nil {
		t.Fatal(err)
	}
	waitChange(t, carol, g.ID, func(ch GroupChange) bool { return eq(ch.Removed, []string{b}) })
	waitChange(t, bob, g.ID, func(ch GroupChange) bool { return eq(ch.Removed, []string{b}) })
	if _, err := alice.c.AddMembers(g.ID, e); err != nil {
		t.Fatal(err)
	}
	waitChange(t, carol, g.ID, func(ch GroupChange) bool { return eq(ch.Added, []string{e}) })

	// bob replays his old copy to carol.
	carol.flush()
	before := len(rec.to(b, 1))
	proof, err := kept.Proof.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	st := kept.State
	err = bob.c.core.Update(func(tx *store.Tx) error {
		body := &content.Group{Version: st.Version, Name: st.Name, Members: st.Members, Admins: st.Admins, Proof: proof}
		return bob.c.core.EnqueueControl(tx, c, &content.Content{Kind: content.KindGroupUpdate, GroupID: st.ID, Timer: st.Timer, Group: body})
	})
	if err != nil {
		t.Fatal(err)
	}
	bob.c.core.KickOutbox()
	bob.flush()
	waitFor(t, "carol holds bob's replay (or answers it)", func() bool {
		var held [][]byte
		carol.c.core.View(func(tx *store.Tx) error {
			f, err := core.SettingFields(tx, "group-held-envs/"+g.ID)
			held = f.Bytes[1]
			return err
		})
		return len(held) > 0 || len(rec.to(b, 1)) > before
	})
	carol.flush()
	if n := len(rec.to(b, 1)) - before; n != 0 {
		t.Fatalf("carol answered bob, removed, with %d envelopes (her state names %s)", n, e)
	}
	if got := carol.members(g.ID); !eq(got, sorted(alice.c.ID(), c, e)) {
		t.Fatalf("carol's members after the replay: %v", got)
	}
}
