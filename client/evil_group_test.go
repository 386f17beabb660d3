package client

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/group"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/prekey"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/wire"
)

// injector is the evil server of acceptance test 11: it records every
// sealed send by recipient device, adds a device 2 with an attacker's keys
// to every account in the bundles it hands out, and keeps every envelope it
// pushes, for replays.
type injector struct {
	mu       sync.Mutex
	attacker *attacker
	on       bool
	sends    map[string]int              // "account.device" → sends
	pushed   map[string][]*wire.Envelope // by account
}

func (in *injector) toServer(_ string, f *wire.Frame) []*wire.Frame {
	if s := f.GetRequest().GetSend(); s != nil {
		in.mu.Lock()
		in.sends[fmt.Sprintf("%s.%d", s.GetAccount(), s.GetDevice())]++
		in.mu.Unlock()
	}
	return []*wire.Frame{f}
}

func (in *injector) toClient(acct string, f *wire.Frame) []*wire.Frame {
	in.mu.Lock()
	defer in.mu.Unlock()
	if bs := f.GetResponse().GetBundles(); bs != nil && in.on {
		extra := in.attacker.bundle()
		extra.Device = 2
		bs.Bundles = append(bs.Bundles, extra)
	}
	for _, e := range pushed(f) {
		in.pushed[acct] = append(in.pushed[acct], proto.Clone(e).(*wire.Envelope))
	}
	return []*wire.Frame{f}
}

// sendsTo returns how many envelopes went to account (device 0: any).
func (in *injector) sendsTo(account string, dev uint32) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	for k, v := range in.sends {
		if k == fmt.Sprintf("%s.%d", account, dev) || (dev == 0 && strings.HasPrefix(k, account+".")) {
			n += v
		}
	}
	return n
}

// sendsToDevice returns how many envelopes went to device dev of anyone.
func (in *injector) sendsToDevice(dev uint32) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	for k, v := range in.sends {
		if strings.HasSuffix(k, fmt.Sprintf(".%d", dev)) {
			n += v
		}
	}
	return n
}

// resubscribe starts u's events afresh: what was announced before is gone.
func (u *user) resubscribe() {
	u.sub.Close()
	u.sub = u.c.Subscribe()
}

// quietUntil collects u's events until a group text equal to sentinel
// arrives, and fails on any group change or other group text on the way:
// nothing forged, replayed or injected may show.
func quietUntil(t *testing.T, u *user, gid, sentinel string) []Event {
	t.Helper()
	var seen []Event
	for {
		ev := next(t, u, func(e Event) bool { return true })
		seen = append(seen, ev)
		switch e := ev.(type) {
		case *GroupEvent:
			t.Fatalf("%s showed a group change: %+v", u.c.ID(), e.Change)
		case *MessageEvent:
			if e.Message.Group == gid && e.Message.Kind == KindText {
				if e.Message.Text != sentinel {
					t.Fatalf("%s showed %q from %s", u.c.ID(), e.Message.Text, e.Message.From)
				}
				return seen
			}
			if e.Message.Group != "" || e.Message.Kind == KindText {
				t.Fatalf("%s showed %+v", u.c.ID(), e.Message)
			}
		}
	}
}

func dropped(events []Event, reason string) bool {
	return slices.ContainsFunc(events, func(e Event) bool {
		d, ok := e.(*DroppedEvent)
		return ok && (reason == "" || strings.Contains(d.Reason, reason))
	})
}

// TestEvilGroupInjection is acceptance test 11 (Matrix's "More is Less"):
// the server adds a device to every account's device list, and tries to
// put a user into a group — with a forged change, a replayed old change, a
// change from a member who is no admin, a stranger's own copy of the group,
// and replays of everything it delivered. No group key and no message is
// encrypted to the injected device or user; only genuine changes are shown.
func TestEvilGroupInjection(t *testing.T) {
	s := startSkyd(t)
	ev := startEvil(t, s)
	in := &injector{attacker: newAttacker(), on: true, sends: map[string]int{}, pushed: map[string][]*wire.Envelope{}}
	ev.set(in.toClient, in.toServer)
	alice := newUserAt(t, s, ev.url(), testOptions(nil))
	bob := newUserAt(t, s, ev.url(), testOptions(nil))
	carol := newUserAt(t, s, ev.url(), testOptions(nil))
	mallory := newUser(t, s, testOptions(nil)) // a real account the attacker holds
	dave := newUser(t, s, testOptions(nil))
	a, b, c, m, d := alice.c.ID(), bob.c.ID(), carol.c.ID(), mallory.c.ID(), dave.c.ID()

	// The group, made while the server lists a device 2 for everyone.
	g, err := alice.c.CreateGroup("Desk", []string{b, c})
	if err != nil {
		t.Fatal(err)
	}
	gid := g.ID
	for _, u := range []*user{bob, carol} {
		groupChange(t, u, gid)
	}
	if e := next(t, alice, func(e *UnannouncedDeviceEvent) bool { return true }); e.Device != 2 {
		t.Fatalf("event %+v", e)
	}
	if _, err := alice.c.SendGroup(gid, "first"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.c.SendGroup(gid, "second"); err != nil {
		t.Fatal(err)
	}
	if got := groupTexts(t, carol, gid, 2); !eq(got, sorted(a+": first", b+": second")) {
		t.Fatalf("carol got %q", got)
	}
	groupTexts(t, bob, gid, 1)
	groupTexts(t, alice, gid, 1)
	for _, u := range []*user{alice, bob} {
		var devs []uint32
		u.c.core.View(func(tx *store.Tx) (err error) {
			for _, p := range []string{a, b, c} {
				ds, err := tx.SessionDevices(p)
				if err != nil {
					return err
				}
				devs = append(devs, ds...)
			}
			return nil
		})
		if slices.Contains(devs, 2) {
			t.Fatalf("%s made a session with an injected device: %v", u.c.ID(), devs)
		}
	}

	// The injected device "sends" to alice: a real first message under the
	// attacker's key, sealed with a certificate the server minted for
	// bob's device 2. Dropped, and said so.
	issuer, _ := mintingIssuer(t, s)
	cert, err := issuer.Issue(sealed.Sender{UUID: b, DeviceID: 2, IdentityKey: in.attacker.ik.Public}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	inner := in.attacker.firstMessage(t, b, a, bobBundle(t, alice, a), "from bob's new phone")
	env, err := sealed.Encrypt(&sealed.Content{Type: sealed.MessageType(inner[0]), Sender: cert, Message: inner[1:]}, in.attacker.ik, alice.c.core.Local.KeyPair.Public)
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.conn(a).inject(pushFrame(&wire.Envelope{Id: randomID(), ServerTime: time.Now().Unix(), Content: env})); err != nil {
		t.Fatal(err)
	}
	if e := next(t, alice, func(e *UnannouncedDeviceEvent) bool { return e.Peer == b }); e.Device != 2 {
		t.Fatalf("event %+v", e)
	}

	// A change that claims to be alice's, made by the server: a first
	// message under the attacker's key, with a certificate minted for
	// alice's device 1. Bob sees a key change to decide on, never the
	// change; he keeps alice's key.
	bob.resubscribe()
	gidBytes, _ := content.ParseGroupID(gid)
	forgedCert, err := issuer.Issue(sealed.Sender{UUID: a, DeviceID: 1, IdentityKey: in.attacker.ik.Public}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	update := &content.Content{Version: content.Version, Sender: a, SenderDevice: 1, Recipient: b, ID: core.NewContentID(), SentAt: time.Now(), Seq: 99,
		Kind: content.KindGroupUpdate, GroupID: gidBytes, Timer: DefaultTimer,
		Group: &content.Group{Version: 7, Name: "Desk", Members: sorted(a, b, c, m), Admins: sorted(a, m)}}
	inner = in.attacker.firstContent(t, a, b, bobBundle(t, bob, b), update)
	env, err = sealed.Encrypt(&sealed.Content{Type: sealed.MessageType(inner[0]), Sender: forgedCert, Message: inner[1:]}, in.attacker.ik, bob.c.core.Local.KeyPair.Public)
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.conn(b).inject(pushFrame(&wire.Envelope{Id: randomID(), ServerTime: time.Now().Unix(), Content: env})); err != nil {
		t.Fatal(err)
	}
	if e := next(t, bob, func(e Event) bool {
		_, ic := e.(*IdentityChangedEvent)
		_, ge := e.(*GroupEvent)
		return ic || ge
	}); fmt.Sprintf("%T", e) != fmt.Sprintf("%T", &IdentityChangedEvent{}) {
		t.Fatalf("bob: %T %+v", e, e)
	}
	if err := bob.c.KeepIdentity(a); err != nil {
		t.Fatal(err)
	}
	if got := bob.members(gid); !eq(got, sorted(a, b, c)) {
		t.Fatalf("bob's members after the forged change: %v", got)
	}

	// A member who is no admin (carol) adds mallory, with a change made and
	// sent through her real session.
	err = carol.c.core.Update(func(tx *store.Tx) error {
		r, err := group.FindRecord(tx, gid)
		if err != nil {
			return err
		}
		forged := &content.Group{Version: r.State.Version + 1, Name: "Desk", Members: sorted(a, b, c, m), Admins: sorted(a, c)}
		for _, to := range []string{a, b} {
			if err := carol.c.core.EnqueueControl(tx, to, &content.Content{Kind: content.KindGroupUpdate, GroupID: r.State.ID, Timer: r.State.Timer, Group: forged}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	bob.resubscribe() // from here on, bob shows nothing but the sentinels
	carol.c.core.KickOutbox()
	carol.flush()
	if _, err := alice.c.SendGroup(gid, "sentinel 1"); err != nil {
		t.Fatal(err)
	}
	if evs := quietUntil(t, bob, gid, "sentinel 1"); !dropped(evs, "not signed") {
		t.Fatalf("bob did not drop carol's unsigned change: %v", evs)
	}

	// Mallory makes her own copy of the group, as its admin, and races it
	// to bob, carol and dave (not yet in the group: an invitee). She can
	// sign a creation only with a group key of her own, to which the real
	// group's ID does not commit: every copy of hers fails verification.
	quietUntil(t, carol, gid, "sentinel 1")
	carol.resubscribe()
	err = mallory.c.core.Update(func(tx *store.Tx) error {
		ch := group.Change{State: group.State{ID: gidBytes, Version: 5, Name: "Desk", Members: sorted(a, b, c, m, d), Admins: []string{m}, Timer: DefaultTimer}}
		if err := (*group.Record)(nil).Seal(&ch, &group.Signer{ID: m, Key: mallory.c.core.Local.KeyPair.Curve()}); err != nil {
			return err
		}
		proof, err := ch.Proof.MarshalBinary()
		if err != nil {
			return err
		}
		body := &content.Group{Version: 5, Name: "Desk", Members: ch.Members, Admins: ch.Admins, Proof: proof}
		for _, to := range []string{b, c, d} {
			if err := mallory.c.core.EnqueueControl(tx, to, &content.Content{Kind: content.KindGroupUpdate, GroupID: gidBytes, Timer: DefaultTimer, Group: body}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mallory.c.core.KickOutbox()
	mallory.flush()
	time.Sleep(300 * time.Millisecond) // let the members store them first
	if _, err := alice.c.SendGroup(gid, "sentinel 2"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*user{bob, carol} {
		// Mallory's copy fails verification: nothing of it is shown or
		// kept.
		quietUntil(t, u, gid, "sentinel 2")
		if devs := sessionsWith(t, u, m); len(devs) != 0 {
			t.Fatalf("%s keeps a session with mallory, who is in no group with them", u.c.ID())
		}
	}

	// A replayed old change, through alice's real session: the group as it
	// was at version 1 (before dave was added), signed, sent again after.
	var v1Proof []byte
	alice.c.core.View(func(tx *store.Tx) error {
		r, err := group.FindRecord(tx, gid)
		if err == nil {
			v1Proof, err = r.Proof.MarshalBinary()
		}
		return err
	})
	if _, err := alice.c.AddMembers(gid, d); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*user{bob, carol} {
		if ch := groupChange(t, u, gid); !eq(ch.Added, []string{d}) || ch.By != a {
			t.Fatalf("%s: the genuine change shows %+v", u.c.ID(), ch)
		}
		next(t, u, func(e *MessageEvent) bool { return e.Message.Kind == KindGroup }) // its notice
	}
	if ch := groupChange(t, dave, gid); !ch.Joined {
		t.Fatalf("dave: %+v", ch)
	}
	err = alice.c.core.Update(func(tx *store.Tx) error {
		v1 := &content.Group{Version: 1, Name: "Desk", Members: sorted(a, b, c), Admins: []string{a}, Proof: v1Proof}
		return alice.c.core.EnqueueControl(tx, b, &content.Content{Kind: content.KindGroupUpdate, GroupID: gidBytes, Timer: DefaultTimer, Group: v1})
	})
	if err != nil {
		t.Fatal(err)
	}
	alice.c.core.KickOutbox()
	if _, err := alice.c.SendGroup(gid, "sentinel 3"); err != nil {
		t.Fatal(err)
	}
	if evs := quietUntil(t, bob, gid, "sentinel 3"); !dropped(evs, "older") {
		t.Fatalf("bob did not drop the replayed change: %v", evs)
	}
	if got := bob.members(gid); !eq(got, sorted(a, b, c, d)) {
		t.Fatalf("bob's members after the replay: %v", got)
	}

	// The server replays everything it pushed to bob, after his restart.
	in.mu.Lock()
	replay := slices.Clone(in.pushed[b])
	in.mu.Unlock()
	bob.reopen()
	for i := 0; i < len(replay); i += 20 {
		if err := ev.conn(b).inject(pushFrame(replay[i:min(i+20, len(replay))]...)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := alice.c.SendGroup(gid, "sentinel 4"); err != nil {
		t.Fatal(err)
	}
	quietUntil(t, bob, gid, "sentinel 4")

	// What everyone holds and sent: the same members everywhere, mallory
	// and device 2 never sent anything, mallory holds no one's key.
	for _, u := range []*user{alice, bob, carol} {
		u.flush()
		if got := u.members(gid); !eq(got, sorted(a, b, c, d)) {
			t.Fatalf("%s: members %v", u.c.ID(), got)
		}
		if got := historyTexts(t, u.c, gid); slices.Contains(got, "<I am in") {
			t.Fatalf("%s shows mallory's message", u.c.ID())
		}
	}
	if n := in.sendsTo(m, 0); n != 0 {
		t.Fatalf("%d envelopes went to mallory", n)
	}
	if n := in.sendsToDevice(2); n != 0 {
		t.Fatalf("%d envelopes went to an injected device", n)
	}
	if in.sendsTo(b, 1) == 0 || in.sendsTo(c, 1) == 0 {
		t.Fatal("the recorder saw no sends at all")
	}
	held := senderKeysOf(t, mallory, gidBytes, a, b, c)
	if len(held.Snapshot()) != 0 {
		t.Fatalf("mallory holds %d sender keys of the group", len(held.Snapshot()))
	}
	if g, err := dave.c.Group(gid); err != nil || !eq(g.Admins, []string{a}) || !eq(g.Members, sorted(a, b, c, d)) {
		t.Fatalf("dave, the invitee mallory raced, holds %+v, %v", g, err)
	}
}

// mintingIssuer is what a server holding its certified key can do: issue
// sender certificates naming anyone, with any identity key.
func mintingIssuer(t *testing.T, s *skyd) (*sealed.Issuer, curve.KeyPair) {
	t.Helper()
	key := curve.GenerateKeyPair()
	sc, err := s.trust.Certify(77, key.Public)
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := sealed.NewIssuer(sc, key.Private)
	if err != nil {
		t.Fatal(err)
	}
	return issuer, key
}

// firstContent is a real first message (type byte and bytes) from the
// attacker, claiming to be from, carrying content ct, to the device whose
// bundle is given.
func (m *attacker) firstContent(t *testing.T, from, to string, b *prekey.Bundle, ct *content.Content) []byte {
	t.Helper()
	local, remote := protocol.Address{Name: from, DeviceID: 1}, protocol.Address{Name: to, DeviceID: 1}
	if err := protocol.ProcessPreKeyBundle(ctxT(t), m.store.Stores(), local, remote, b, time.Now()); err != nil {
		t.Fatal(err)
	}
	body, err := content.Encode(ct)
	if err != nil {
		t.Fatal(err)
	}
	padded, err := content.PadForSealing(body)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := protocol.Encrypt(ctxT(t), m.store.Stores(), local, remote, padded, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte{byte(msg.Type)}, msg.Bytes...)
}
