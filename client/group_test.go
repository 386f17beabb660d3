package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/group"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/protocol/senderkey"
	"github.com/skymsg/sky/wire"
)

// groupChange waits for u's next event about group gid and returns what
// changed.
func groupChange(t testing.TB, u *user, gid string) GroupChange {
	t.Helper()
	return next(t, u, func(e *GroupEvent) bool { return e.Group == gid }).Change
}

// waitChange waits for u's event about group gid that matches.
func waitChange(t testing.TB, u *user, gid string, match func(GroupChange) bool) GroupChange {
	t.Helper()
	return next(t, u, func(e *GroupEvent) bool { return e.Group == gid && match(e.Change) }).Change
}

// groupTexts waits for n texts to group gid at u and returns them as
// "sender: text", sorted (senders' messages interleave freely).
func groupTexts(t testing.TB, u *user, gid string, n int) []string {
	t.Helper()
	var out []string
	for len(out) < n {
		e := next(t, u, func(e *MessageEvent) bool { return e.Message.Group == gid && e.Message.Kind == KindText })
		if e.Message.GroupName == "" || e.Message.Conversation != gid {
			t.Fatalf("a group message without its group: %+v", e.Message)
		}
		out = append(out, e.Message.From+": "+e.Message.Text)
	}
	slices.Sort(out)
	return out
}

func (u *user) members(gid string) []string {
	u.t.Helper()
	g, err := u.c.Group(gid)
	if err != nil {
		u.t.Fatal(err)
	}
	return g.Members
}

func sorted(ids ...string) []string { return slices.Sorted(slices.Values(ids)) }

// sendsRecorder records, through an evil proxy, the sealed envelopes a
// client sends, by recipient.
type sendsRecorder struct {
	mu   sync.Mutex
	sent map[string][][]byte // "account.device" → contents
}

func (r *sendsRecorder) toServer(_ string, f *wire.Frame) []*wire.Frame {
	if s := f.GetRequest().GetSend(); s != nil {
		r.mu.Lock()
		if r.sent == nil {
			r.sent = map[string][][]byte{}
		}
		k := fmt.Sprintf("%s.%d", s.GetAccount(), s.GetDevice())
		r.sent[k] = append(r.sent[k], s.GetContent())
		r.mu.Unlock()
	}
	if ms := f.GetRequest().GetMultiSend(); ms != nil {
		// One message for several members (sealed sender v2): what each
		// device receives.
		m, err := sealed.ParseSentMessage(ms.GetMessage(), wire.MaxMultiRecipients)
		r.mu.Lock()
		if r.sent == nil {
			r.sent = map[string][][]byte{}
		}
		for i := range m.Recipients {
			if err != nil {
				break
			}
			to, _ := wire.ServiceIDAccount(m.Recipients[i].ServiceID)
			for _, d := range m.Recipients[i].Devices {
				k := fmt.Sprintf("%s.%d", to, d.ID)
				r.sent[k] = append(r.sent[k], m.Received(&m.Recipients[i]))
			}
		}
		r.mu.Unlock()
	}
	return []*wire.Frame{f}
}

func (r *sendsRecorder) to(account string, dev uint32) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sent[fmt.Sprintf("%s.%d", account, dev)])
}

// senderKeyMessages opens envelopes sealed to u and returns the sender-key
// messages among them.
func senderKeyMessages(t *testing.T, u *user, envs [][]byte) [][]byte {
	t.Helper()
	var out [][]byte
	for _, e := range envs {
		sc, err := sealed.Open(e, u.c.core.Local.KeyPair)
		if err != nil {
			t.Fatalf("an envelope to %s does not open: %v", u.c.ID(), err)
		}
		if sc.Type == sealed.TypeSenderKey {
			out = append(out, sc.Message)
		}
	}
	return out
}

// senderKeysOf copies what u holds of every group member's sender key.
func senderKeysOf(t *testing.T, u *user, gid content.GroupID, members ...string) *senderkey.MemoryStore {
	t.Helper()
	ms := senderkey.NewMemoryStore()
	err := u.c.core.View(func(tx *store.Tx) error {
		sks := group.SenderKeys(tx)
		for _, m := range members {
			addr := protocol.Address{Name: m, DeviceID: 1}
			r, err := sks.LoadSenderKey(context.Background(), addr, senderkey.DistributionID(gid))
			if err != nil {
				return err
			}
			if r != nil {
				if err := ms.StoreSenderKey(context.Background(), addr, senderkey.DistributionID(gid), r); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// TestGroups: a group through a real skyd, end to end: create, talk both
// ways, add a member (who reads only what follows), remove one (who cannot
// read later messages even with the keys kept from before), a member
// leaves, a member restarts.
func TestGroups(t *testing.T) {
	s := startSkyd(t)
	ev := startEvil(t, s)
	var rec sendsRecorder
	ev.set(nil, rec.toServer)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	carol := newUserAt(t, s, ev.url(), testOptions(nil)) // her sends are recorded
	dave := newUser(t, s, testOptions(nil))
	a, b, c, d := alice.c.ID(), bob.c.ID(), carol.c.ID(), dave.c.ID()

	// Create: everyone is told, and holds the same group.
	g, err := alice.c.CreateGroup("Newsroom", []string{b, c})
	if err != nil {
		t.Fatal(err)
	}
	gid := g.ID
	if !g.Admin || !g.Member || !eq(g.Members, sorted(a, b, c)) || !eq(g.Admins, []string{a}) {
		t.Fatalf("created %+v", g)
	}
	if ch := groupChange(t, alice, gid); !ch.Joined || ch.By != a {
		t.Fatalf("alice's own event %+v", ch)
	}
	for _, u := range []*user{bob, carol} {
		ch := groupChange(t, u, gid)
		if !ch.Joined || ch.By != a || ch.Name != "Newsroom" || !eq(ch.Added, sorted(a, b, c)) {
			t.Fatalf("%s: %+v", u.c.ID(), ch)
		}
		if got := u.members(gid); !eq(got, sorted(a, b, c)) {
			t.Fatalf("%s sees members %v", u.c.ID(), got)
		}
	}

	// Talk: alice (whose sender key came with the group), then bob (who
	// hands his out first).
	if _, err := alice.c.SendGroup(gid, "hello group"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.c.SendGroup("Newsroom", "hi from bob"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*user{alice, bob, carol} {
		var want []string
		if u != alice {
			want = append(want, a+": hello group")
		}
		if u != bob {
			want = append(want, b+": hi from bob")
		}
		if got := groupTexts(t, u, gid, len(want)); !eq(got, sorted(want...)) {
			t.Fatalf("%s got %q", u.c.ID(), got)
		}
	}

	// Add dave: he reads what is sent after, not before.
	if _, err := alice.c.AddMembers(gid, d); err != nil {
		t.Fatal(err)
	}
	if ch := groupChange(t, dave, gid); !ch.Joined || !eq(ch.Added, sorted(a, b, c, d)) {
		t.Fatalf("dave: %+v", ch)
	}
	for _, u := range []*user{bob, carol} {
		if ch := groupChange(t, u, gid); ch.Joined || !eq(ch.Added, []string{d}) || ch.By != a {
			t.Fatalf("%s: %+v", u.c.ID(), ch)
		}
	}
	if _, err := carol.c.SendGroup(gid, "welcome dave"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*user{alice, bob, dave} {
		if got := groupTexts(t, u, gid, 1); !eq(got, []string{c + ": welcome dave"}) {
			t.Fatalf("%s got %q", u.c.ID(), got)
		}
	}
	if h := historyTexts(t, dave.c, gid); !eq(h, []string{"<welcome dave"}) {
		t.Fatalf("dave's history %q", h)
	}

	// Remove bob. He keeps a copy of every sender key he held: it does not
	// read what carol and alice send afterwards.
	gidBytes, _ := content.ParseGroupID(gid)
	kept := senderKeysOf(t, bob, gidBytes, a, c, d)
	if _, err := alice.c.RemoveMembers(gid, b); err != nil {
		t.Fatal(err)
	}
	if ch := groupChange(t, bob, gid); !eq(ch.Removed, []string{b}) {
		t.Fatalf("bob: %+v", ch)
	}
	for _, u := range []*user{carol, dave} {
		if ch := groupChange(t, u, gid); !eq(ch.Removed, []string{b}) {
			t.Fatalf("%s: %+v", u.c.ID(), ch)
		}
	}
	if g, _ := bob.c.Group(gid); g.Member {
		t.Fatal("bob is still a member at his own client")
	}
	if _, err := bob.c.SendGroup(gid, "still here?"); !errors.Is(err, ErrNotGroupMember) {
		t.Fatalf("bob sends after his removal: %v", err)
	}
	if _, err := carol.c.SendGroup(gid, "bob is gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.c.SendGroup(gid, "indeed"); err != nil {
		t.Fatal(err)
	}
	if got := groupTexts(t, dave, gid, 2); !eq(got, sorted(c+": bob is gone", a+": indeed")) {
		t.Fatalf("dave got %q", got)
	}
	carol.flush()
	if n := len(rec.to(b, 1)); n == 0 {
		t.Fatal("nothing recorded from carol to bob before his removal")
	}
	before := len(rec.to(b, 1))
	sks := senderKeyMessages(t, dave, rec.to(d, 1))
	if len(sks) == 0 {
		t.Fatal("no sender-key message from carol to dave recorded")
	}
	last := sks[len(sks)-1]
	if _, err := senderkey.Decrypt(context.Background(), kept, protocol.Address{Name: c, DeviceID: 1}, last); !errors.Is(err, protocol.ErrNoSession) {
		t.Fatalf("bob's old copy of carol's key and her message after his removal: %v", err)
	}
	if got := historyTexts(t, bob.c, gid); slices.Contains(got, "<bob is gone") || slices.Contains(got, "<indeed") {
		t.Fatalf("bob shows %q", got)
	}
	if n := len(rec.to(b, 1)); n != before {
		t.Fatalf("carol sent bob %d envelopes after his removal", n-before)
	}

	// Dave leaves (he is no admin): alice stops sending to him and removes
	// him with a change.
	if err := dave.c.LeaveGroup(gid); err != nil {
		t.Fatal(err)
	}
	if ch := groupChange(t, dave, gid); !eq(ch.Left, []string{d}) {
		t.Fatalf("dave's own event %+v", ch)
	}
	waitChange(t, alice, gid, func(ch GroupChange) bool { return eq(ch.Left, []string{d}) && ch.By == d })
	waitChange(t, alice, gid, func(ch GroupChange) bool { return eq(ch.Removed, []string{d}) && ch.By == a })
	waitChange(t, carol, gid, func(ch GroupChange) bool { return eq(ch.Removed, []string{d}) && ch.By == a })
	if got := carol.members(gid); !eq(got, sorted(a, c)) {
		t.Fatalf("carol sees %v", got)
	}

	// Carol restarts; the group and its keys survive.
	carol.reopen()
	if _, err := alice.c.SendGroup(gid, "after the restart"); err != nil {
		t.Fatal(err)
	}
	if got := groupTexts(t, carol, gid, 1); !eq(got, []string{a + ": after the restart"}) {
		t.Fatalf("carol got %q", got)
	}
	if _, err := carol.c.SendGroup(gid, "still here"); err != nil {
		t.Fatal(err)
	}
	if got := groupTexts(t, alice, gid, 1); !eq(got, []string{c + ": still here"}) {
		t.Fatalf("alice got %q", got)
	}
	want := []string{"<hello group", "<hi from bob", ">welcome dave", ">bob is gone", "<indeed", "<after the restart", ">still here"}
	if got := historyTexts(t, carol.c, gid); !eq(got, want) {
		t.Fatalf("carol's history:\n got %q\nwant %q", got, want)
	}
	if gs, err := dave.c.Groups(); err != nil || len(gs) != 1 || gs[0].Member {
		t.Fatalf("dave's groups %+v %v", gs, err)
	}
}

// TestBroadcast: a broadcast list sends one text as separate 1:1 messages;
// the recipients see an ordinary message from the sender, and nothing of
// the list or of each other.
func TestBroadcast(t *testing.T) {
	s := startSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	carol := newUser(t, s, testOptions(nil))
	a, b, c := alice.c.ID(), bob.c.ID(), carol.c.ID()
	if err := alice.c.SaveBroadcastList("team", []string{c, b, b}); err != nil {
		t.Fatal(err)
	}
	if ls, err := alice.c.BroadcastLists(); err != nil || len(ls) != 1 || !eq(ls[0].Members, sorted(b, c)) {
		t.Fatalf("lists %+v %v", ls, err)
	}
	ms, err := alice.c.Broadcast("team", "meeting at noon")
	if err != nil || len(ms) != 2 {
		t.Fatalf("broadcast: %d messages, %v", len(ms), err)
	}
	for _, u := range []*user{bob, carol} {
		m := next(t, u, func(e *MessageEvent) bool { return true }).Message
		if m.From != a || m.Text != "meeting at noon" || m.Group != "" || m.Conversation != a {
			t.Fatalf("%s got %+v", u.c.ID(), m)
		}
	}
	if got := historyTexts(t, alice.c, b); !eq(got, []string{">meeting at noon"}) {
		t.Fatalf("alice's conversation with bob: %q", got)
	}
	if _, err := alice.c.Broadcast("nope", "x"); !errors.Is(err, ErrNoSuchList) {
		t.Fatalf("an unknown list: %v", err)
	}
	if err := alice.c.SaveBroadcastList("bad", []string{"not an id"}); !errors.Is(err, ErrInvalidID) {
		t.Fatalf("a bad member: %v", err)
	}
	if err := alice.c.DeleteBroadcastList("team"); err != nil {
		t.Fatal(err)
	}
	if ls, _ := alice.c.BroadcastLists(); len(ls) != 0 {
		t.Fatalf("after deleting: %+v", ls)
	}
}

// TestGroupHeldUntilKnown: what a member receives before it can use it —
// a new member's sender key and text, ahead of the change that adds the new
// member — is held and read once the change arrives. The server delivers
// bob's backlog in reverse.
func TestGroupHeldUntilKnown(t *testing.T) {
	s := startSkyd(t)
	ev := startEvil(t, s)
	alice := newUser(t, s, testOptions(nil))
	bob := newUserAt(t, s, ev.url(), testOptions(nil))
	dave := newUser(t, s, testOptions(nil))
	a, b, d := alice.c.ID(), bob.c.ID(), dave.c.ID()
	g, err := alice.c.CreateGroup("Desk", []string{b})
	if err != nil {
		t.Fatal(err)
	}
	groupChange(t, bob, g.ID)
	bob.pause()
	if _, err := alice.c.AddMembers(g.ID, d); err != nil {
		t.Fatal(err)
	}
	alice.flush()
	groupChange(t, dave, g.ID)
	if _, err := dave.c.SendGroup(g.ID, "early"); err != nil {
		t.Fatal(err)
	}
	dave.flush()
	var mu sync.Mutex
	reversed := 0
	ev.set(func(acct string, f *wire.Frame) []*wire.Frame {
		if envs := pushed(f); acct == b && len(envs) > 1 {
			slices.Reverse(envs)
			mu.Lock()
			reversed += len(envs)
			mu.Unlock()
		}
		return []*wire.Frame{f}
	}, nil)
	bob.start()
	if ch := groupChange(t, bob, g.ID); !eq(ch.Added, []string{d}) || ch.By != a {
		t.Fatalf("bob: %+v", ch)
	}
	if got := groupTexts(t, bob, g.ID, 1); !eq(got, []string{d + ": early"}) {
		t.Fatalf("bob got %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if reversed < 3 {
		t.Fatalf("the backlog came in pieces (%d reversed); the test proves nothing", reversed)
	}
}

// TestGroupConcurrentAdmins: two admins change the group at once while
// offline; when they come back every member settles on the same state, and
// the admin whose change lost makes it again, so nothing is lost.
func TestGroupConcurrentAdmins(t *testing.T) {
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
	// Making bob admin needs his identity key, which alice pins when the
	// group's creation goes out to him.
	waitChange(t, bob, g.ID, func(ch GroupChange) bool { return ch.Joined })
	if _, err := alice.c.SetGroupAdmin(g.ID, b, true); err != nil {
		t.Fatal(err)
	}
	waitChange(t, bob, g.ID, func(ch GroupChange) bool { return eq(ch.AdminsAdded, []string{b}) })
	alice.pause()
	bob.pause()
	if _, err := alice.c.AddMembers(g.ID, d); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.c.RenameGroup(g.ID, "Night desk"); err != nil {
		t.Fatal(err)
	}
	alice.start()
	bob.start()
	want := sorted(a, b, c, d)
	for _, u := range []*user{alice, bob, carol, dave} {
		deadline := time.Now().Add(15 * time.Second)
		for {
			g, err := u.c.Group(g.ID)
			if err == nil && eq(g.Members, want) && g.Name == "Night desk" && g.Version == 4 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s settled on %+v, %v", u.c.ID(), g, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
