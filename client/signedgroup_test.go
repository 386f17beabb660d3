package client

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/group"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/wire"
)

// withholder is a server that withholds what it pushes to one account
// while on, for good: it drops those envelopes, also when pushed again,
// and acknowledges them on the account's behalf with its next Ack, so the
// server deletes them.
type withholder struct {
	mu       sync.Mutex
	victim   string
	on       bool
	withheld map[string]bool
}

func (w *withholder) toClient(acct string, f *wire.Frame) []*wire.Frame {
	w.mu.Lock()
	defer w.mu.Unlock()
	envs := pushed(f)
	if acct != w.victim || len(envs) == 0 {
		return []*wire.Frame{f}
	}
	var keep []*wire.Envelope
	for _, e := range envs {
		switch {
		case w.withheld[string(e.GetId())]:
		case w.on:
			w.withheld[string(e.GetId())] = true
		default:
			keep = append(keep, e)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	return []*wire.Frame{pushFrame(keep...)}
}

func (w *withholder) toServer(acct string, f *wire.Frame) []*wire.Frame {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ack := f.GetRequest().GetAck(); ack != nil && acct == w.victim {
		for id := range w.withheld {
			ack.Ids = append(ack.Ids, []byte(id))
		}
	}
	return []*wire.Frame{f}
}

func (w *withholder) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.withheld)
}

// TestGroupWithheldChange: the server withholds an admin's change from one
// member for good. The member learns of it from the head of the group's
// signed versions that the next group text of another member carries, asks
// that member, and applies the change it relays (signed by the admin).
func TestGroupWithheldChange(t *testing.T) {
	s := startSkyd(t)
	ev := startEvil(t, s)
	w := &withholder{withheld: map[string]bool{}}
	ev.set(w.toClient, w.toServer)
	alice := newUserAt(t, s, ev.url(), testOptions(nil))
	bob := newUserAt(t, s, ev.url(), testOptions(nil))
	carol := newUserAt(t, s, ev.url(), testOptions(nil))
	dave := newUser(t, s, testOptions(nil))
	a, b, c, d := alice.c.ID(), bob.c.ID(), carol.c.ID(), dave.c.ID()
	w.victim = c

	g, err := alice.c.CreateGroup("Desk", []string{b, c})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []*user{bob, carol} {
		groupChange(t, u, g.ID)
	}
	if _, err := bob.c.SendGroup(g.ID, "hello"); err != nil {
		t.Fatal(err)
	}
	groupTexts(t, carol, g.ID, 1)

	w.mu.Lock()
	w.on = true
	w.mu.Unlock()
	if _, err := alice.c.AddMembers(g.ID, d); err != nil {
		t.Fatal(err)
	}
	alice.flush()
	waitChange(t, bob, g.ID, func(ch GroupChange) bool { return eq(ch.Added, []string{d}) })
	waitChange(t, dave, g.ID, func(ch GroupChange) bool { return ch.Joined })
	deadline := time.Now().Add(5 * time.Second)
	for w.count() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	w.mu.Lock()
	w.on = false
	w.mu.Unlock()
	if w.count() == 0 || !eq(carol.members(g.ID), sorted(a, b, c)) {
		t.Fatalf("the change was not withheld from carol (%d withheld, members %v): the test proves nothing", w.count(), carol.members(g.ID))
	}

	// bob writes; his text carries his head (version 2); carol's is 1.
	if _, err := bob.c.SendGroup(g.ID, "dave is in"); err != nil {
		t.Fatal(err)
	}
	ch := waitChange(t, carol, g.ID, func(ch GroupChange) bool { return len(ch.Added) > 0 })
	if !eq(ch.Added, []string{d}) || ch.By != a {
		t.Fatalf("carol applied %+v", ch)
	}
	if got := carol.members(g.ID); !eq(got, sorted(a, b, c, d)) {
		t.Fatalf("carol's members: %v", got)
	}
	// And everyone holds the same signed head.
	var heads [][]byte
	for _, u := range []*user{alice, bob, carol, dave} {
		heads = append(heads, groupHead(t, u, g.ID))
	}
	for _, h := range heads[1:] {
		if !slices.Equal(h, heads[0]) {
			t.Fatalf("heads differ: %x", heads)
		}
	}
}

// groupHead returns u's head of group gid's signed versions.
func groupHead(t *testing.T, u *user, gid string) []byte {
	t.Helper()
	var head []byte
	err := u.c.core.View(func(tx *store.Tx) error {
		r, err := group.FindRecord(tx, gid)
		if err == nil {
			head = r.HeadBytes()
		}
		return err
	})
	if err != nil || head == nil {
		t.Fatalf("%s: no signed head (%v)", u.c.ID(), err)
	}
	return head
}

// TestGroupInviteLink: an admin makes a link (signed into the group's
// state, so members see it exists), someone who is no contact asks to join
// with it and the admin approves; a wrong secret, a request to a member who
// is no admin and a revoked link are refused.
func TestGroupInviteLink(t *testing.T) {
	s := startSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	dave := newUser(t, s, testOptions(nil))
	eve := newUser(t, s, testOptions(nil))
	a, b, d, e := alice.c.ID(), bob.c.ID(), dave.c.ID(), eve.c.ID()
	g, err := alice.c.CreateGroup("Desk", []string{b})
	if err != nil {
		t.Fatal(err)
	}
	groupChange(t, bob, g.ID)
	link, g2, err := alice.c.MakeInviteLink(g.ID)
	if err != nil || !g2.InviteLink || !strings.HasPrefix(link, "sky:join:"+a+":"+g.ID+":") {
		t.Fatalf("link %q, %+v, %v", link, g2, err)
	}
	if ch := waitChange(t, bob, g.ID, func(ch GroupChange) bool { return ch.LinkChanged }); !ch.InviteLink || ch.By != a {
		t.Fatalf("bob saw %+v", ch)
	}
	if again, err := alice.c.InviteLink(g.ID); err != nil || again != link {
		t.Fatalf("the link again: %q, %v", again, err)
	}

	// eve guesses a secret; eve asks bob, who is no admin: both dropped.
	wrong := link[:len(link)-4] + "0000"
	if wrong == link {
		wrong = link[:len(link)-4] + "1111"
	}
	if _, _, err := eve.c.JoinGroup(wrong); err != nil {
		t.Fatal(err)
	}
	eve.flush()
	next(t, alice, func(ev *DroppedEvent) bool {
		return ev.From == e && strings.Contains(ev.Reason, "wrong or revoked invite link")
	})
	l, _ := group.ParseLink(link)
	l.Admin = b
	if _, _, err := eve.c.JoinGroup(l.String()); err != nil {
		t.Fatal(err)
	}
	eve.flush()
	next(t, bob, func(ev *DroppedEvent) bool { return ev.From == e && strings.Contains(ev.Reason, "not an admin") })

	// dave, who knows nobody, asks with the real link; alice approves.
	if admin, gid, err := dave.c.JoinGroup(link); err != nil || admin != a || gid != g.ID {
		t.Fatalf("join: %s %s %v", admin, gid, err)
	}
	dave.flush()
	if ch := waitChange(t, alice, g.ID, func(ch GroupChange) bool { return len(ch.JoinRequests) > 0 }); !eq(ch.JoinRequests, []string{d}) {
		t.Fatalf("alice saw %+v", ch)
	}
	if info, _ := alice.c.Group(g.ID); !eq(info.JoinRequests, []string{d}) {
		t.Fatalf("alice's waiting requests: %v", info.JoinRequests)
	}
	if _, err := alice.c.AnswerJoin(g.ID, d, true); err != nil {
		t.Fatal(err)
	}
	if ch := groupChange(t, dave, g.ID); !ch.Joined || !eq(dave.members(g.ID), sorted(a, b, d)) {
		t.Fatalf("dave: %+v", ch)
	}
	if rs, _ := dave.c.Requests(); len(rs) != 0 {
		t.Fatalf("the group dave asked for shows as a request: %+v", rs)
	}
	if info, _ := alice.c.Group(g.ID); len(info.JoinRequests) != 0 {
		t.Fatalf("still waiting: %v", info.JoinRequests)
	}

	// Revoked: the old link no longer lets anyone ask.
	if _, err := alice.c.RevokeInviteLink(g.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := eve.c.JoinGroup(link); err != nil {
		t.Fatal(err)
	}
	eve.flush()
	next(t, alice, func(ev *DroppedEvent) bool {
		return ev.From == e && strings.Contains(ev.Reason, "wrong or revoked invite link")
	})
	if info, _ := alice.c.Group(g.ID); info.InviteLink || len(info.JoinRequests) != 0 {
		t.Fatalf("after revoking: %+v", info)
	}
}

// TestEvilGroupRemovedAdmin: an admin, once removed, keeps the copy of the
// group from when it was one and signs a change with it — adding a
// stranger — which it sends to a member through its real session. The
// member refuses it (its signer is no longer an admin) and shows nothing.
// (go test -tags sky_nogroupsigs, which turns the checks off, fails it.)
func TestEvilGroupRemovedAdmin(t *testing.T) {
	s := startSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	carol := newUser(t, s, testOptions(nil))
	mallory := newUser(t, s, testOptions(nil))
	a, b, c, m := alice.c.ID(), bob.c.ID(), carol.c.ID(), mallory.c.ID()
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

	// bob signs "add mallory" from the copy he kept, numbered ahead.
	ch, err := kept.Propose(b, func(st *group.State) { st.Members = append(st.Members, m) })
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
		return bob.c.core.EnqueueControl(tx, c, &content.Content{Kind: content.KindGroupUpdate, GroupID: ch.ID, Timer: ch.Timer, Group: body})
	})
	if err != nil {
		t.Fatal(err)
	}
	carol.resubscribe()
	bob.c.core.KickOutbox()
	bob.flush()
	if _, err := alice.c.SendGroup(g.ID, "sentinel"); err != nil {
		t.Fatal(err)
	}
	if evs := quietUntil(t, carol, g.ID, "sentinel"); !dropped(evs, "not signed by an admin of the group") || !dropped(evs, b+" may no longer be an admin") {
		t.Fatalf("carol did not drop the removed admin's change: %v", evs)
	}
	if got := carol.members(g.ID); !eq(got, sorted(a, b, c)) {
		t.Fatalf("carol's members: %v", got)
	}
}

// TestGroupMigration: a group made before versions were signed (stored as
// such on every member) keeps working; the admin's next change makes the
// signed group that replaces it, under a new ID, and the members move to
// it: same members, the old group left (its history stays).
func TestGroupMigration(t *testing.T) {
	s := startSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	carol := newUser(t, s, testOptions(nil))
	a, b, c := alice.c.ID(), bob.c.ID(), carol.c.ID()
	if err := bob.c.AddContact(a, "alice"); err != nil { // carol has not: the move is no request either
		t.Fatal(err)
	}
	old := content.GroupID{0x01, 0xD}
	legacy, err := group.Create(old, "Old desk", a, []string{b, c}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []*user{alice, bob, carol} {
		err := u.c.core.Update(func(tx *store.Tx) error {
			r, _, err := group.Apply(nil, legacy, u.c.ID())
			if err == nil {
				err = group.SaveRecord(tx, r)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if g, _ := bob.c.Group(old.String()); g.Signed || !g.Member {
		t.Fatalf("bob's unsigned group: %+v", g)
	}

	g, err := alice.c.RenameGroup(old.String(), "Desk")
	if err != nil {
		t.Fatal(err)
	}
	if g.ID == old.String() || !g.Signed || !eq(g.Members, sorted(a, b, c)) {
		t.Fatalf("alice's migrated group: %+v", g)
	}
	for _, u := range []*user{bob, carol} {
		if ch := waitChange(t, u, g.ID, func(ch GroupChange) bool { return ch.Joined }); ch.By != a {
			t.Fatalf("%s: %+v", u.c.ID(), ch)
		}
		if moved, _ := u.c.Group(old.String()); moved.Member {
			t.Fatalf("%s still takes part in the unsigned group", u.c.ID())
		}
		if now, _ := u.c.Group(g.ID); !now.Signed || now.Name != "Desk" || !eq(now.Members, sorted(a, b, c)) {
			t.Fatalf("%s: %+v", u.c.ID(), now)
		}
		if rs, _ := u.c.Requests(); len(rs) != 0 {
			t.Fatalf("%s: the move shows as a request: %+v", u.c.ID(), rs)
		}
	}
	if _, err := bob.c.SendGroup(g.ID, "in the signed group"); err != nil {
		t.Fatal(err)
	}
	if got := groupTexts(t, carol, g.ID, 1); !eq(got, []string{b + ": in the signed group"}) {
		t.Fatalf("carol got %q", got)
	}
}

// TestEvilServerRivalToInvitee: the server races a rival copy of a group
// to someone about to be invited, as a made-up sender (a certificate it
// minted, a real first message under its own key): the copy names the
// invitee a member and the server's sender its admin, signed as well as
// the server can. The invitee refuses it and later joins the real group.
// (go test -tags sky_nogroupsigs, which turns the checks off, fails it.)
func TestEvilServerRivalToInvitee(t *testing.T) {
	s := startSkyd(t)
	ev := startEvil(t, s)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	dave := newUserAt(t, s, ev.url(), testOptions(nil))
	a, b, d := alice.c.ID(), bob.c.ID(), dave.c.ID()
	g, err := alice.c.CreateGroup("Desk", []string{b})
	if err != nil {
		t.Fatal(err)
	}
	groupChange(t, bob, g.ID)
	gid, _ := content.ParseGroupID(g.ID)

	const fake = "zzzzzzzzzz" // a made-up sender
	at := newAttacker()
	issuer, _ := mintingIssuer(t, s)
	cert, err := issuer.Issue(sealed.Sender{UUID: fake, DeviceID: 1, IdentityKey: at.ik.Public}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	rival := group.Change{State: group.State{ID: gid, Version: 9, Name: "Desk", Members: sorted(a, b, d, fake), Admins: []string{fake}, Timer: DefaultTimer}}
	if err := (*group.Record)(nil).Seal(&rival, &group.Signer{ID: fake, Key: at.ik.Curve()}); err != nil {
		t.Fatal(err)
	}
	// Seal gave it the ID its own group key commits to: claim the real one.
	rival.ID, rival.Proof.Chain[0].ID = gid, gid
	rival.Proof.Chain[0].StateDigest = group.StateDigest(&rival.State)
	proof, err := rival.Proof.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	update := &content.Content{Version: content.Version, Sender: fake, SenderDevice: 1, Recipient: d, ID: core.NewContentID(), SentAt: time.Now(), Seq: 1,
		Kind: content.KindGroupUpdate, GroupID: gid, Timer: DefaultTimer,
		Group: &content.Group{Version: 9, Name: "Desk", Members: rival.Members, Admins: rival.Admins, Proof: proof}}
	inner := at.firstContent(t, fake, d, bobBundle(t, dave, d), update)
	env, err := sealed.Encrypt(&sealed.Content{Type: sealed.MessageType(inner[0]), Sender: cert, Message: inner[1:]}, at.ik, dave.c.core.Local.KeyPair.Public)
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.conn(d).inject(pushFrame(&wire.Envelope{Id: randomID(), ServerTime: time.Now().Unix(), Content: env})); err != nil {
		t.Fatal(err)
	}
	e := next(t, dave, func(e *DroppedEvent) bool { return e.From == fake })
	if !strings.Contains(e.Reason, "not signed by an admin") {
		t.Fatalf("dave dropped the rival copy for another reason: %s", e.Reason)
	}
	if _, err := dave.c.Group(g.ID); err == nil {
		t.Fatal("dave keeps the rival copy")
	}

	// The real invitation then comes, and is the one dave holds.
	if _, err := alice.c.AddMembers(g.ID, d); err != nil {
		t.Fatal(err)
	}
	if ch := groupChange(t, dave, g.ID); !ch.Joined || ch.By != a {
		t.Fatalf("dave: %+v", ch)
	}
	if got, _ := dave.c.Group(g.ID); !eq(got.Admins, []string{a}) || !eq(got.Members, sorted(a, b, d)) {
		t.Fatalf("dave holds %+v", got)
	}
}
