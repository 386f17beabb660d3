package group

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/protostore"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
)

// Groups. A group's name and members are kept only by its members' clients
// (package client/group); the server sees sealed envelopes to single
// devices and learns nothing of the group. Every change — create, add,
// remove, rename, admins, timer — is made by an admin, applied at once on
// the admin's own client, and sent to each member inside the 1:1 session,
// which is what tells the members that the admin made it. A member applies
// it only if it comes from a current admin of its own copy of the group,
// with a higher version (or wins against a concurrent change by digest);
// every applied change is shown (GroupEvent, and a notice in the group's
// conversation).
//
// Messages use sender keys (package protocol/senderkey): each member hands
// its sender key to each other member inside the 1:1 session, encrypts each
// group message once with it, and sends that ciphertext to every member's
// device as its own sealed envelope. A member encrypts group messages and
// its sender key only for the members of its own accepted copy of the
// group, never for anyone the server names. When someone leaves or is
// removed, every remaining member replaces its sender key before its next
// message, so they cannot read what follows.

// Errors of groups.
var (
	ErrNoSuchGroup     = errors.New("no such group; check its ID or name (sky group list)")
	ErrAmbiguousGroup  = errors.New("several groups have that name; give the group's ID instead (sky group list)")
	ErrNotGroupMember  = errors.New("you are not a member of that group (you left or were removed); nothing was sent")
	ErrNotGroupAdmin   = errors.New("only an admin of the group can change it; ask one of its admins (sky group list)")
	ErrGroupUnchanged  = errors.New("that changes nothing in the group")
	ErrGroupTooLarge   = fmt.Errorf("a group has at most %d members", MaxMembers)
	ErrInvalidGroupArg = errors.New("a group name is at most 200 bytes of text")
)

// Group is a group as this client knows it.
type Group struct {
	ID       string // 32 hex digits
	Name     string
	Version  uint64
	Members  []string // sorted; the user included while a member
	Admins   []string
	Departed []string // members who left and are not yet removed by an admin
	Timer    time.Duration
	Member   bool // the user is a member (has not left and was not removed)
	Admin    bool // the user is an admin
	// InviteLink: the group has an invite link (an admin made one).
	InviteLink bool
	// JoinRequests are who asked to join with the link this client made
	// and wait for the user's answer (filled in by Group, for admins).
	JoinRequests []string
	// Signed: the group's state is signed by its admins (groups made
	// before Sky signed them are not, until an admin next changes them).
	Signed bool
	// Unconfirmed: the user was invited to this copy of the group and no
	// other member has confirmed it yet (confirm.go); it may be a fork.
	Unconfirmed bool
}

func toGroup(r *Record, self string) Group {
	return Group{ID: r.State.ID.String(), Name: r.State.Name, Version: r.State.Version, Members: slices.Clone(r.State.Members),
		Admins: slices.Clone(r.State.Admins), Departed: slices.Clone(r.Departed), Timer: r.State.Timer,
		Member: r.Member(self), Admin: r.Member(self) && r.State.IsAdmin(self), InviteLink: r.State.Link != [32]byte{}, Signed: r.Proof != nil}
}

// Groups returns every group the client knows (also those the user left),
// by name.
func (g *Groups) Groups() ([]Group, error) {
	var out []Group
	err := g.c.View(func(tx *store.Tx) error {
		ids, err := groupIDs(tx)
		if err != nil {
			return err
		}
		for _, id := range ids {
			r, err := loadGroup(tx, id)
			if err != nil {
				return err
			}
			if r != nil {
				gr := toGroup(r, g.self())
				by, _, err := unconfirmed(tx, id)
				if err != nil {
					return err
				}
				gr.Unconfirmed = by != "" && gr.Member
				out = append(out, gr)
			}
		}
		return nil
	})
	slices.SortFunc(out, func(a, b Group) int {
		if n := strings.Compare(a.Name, b.Name); n != 0 {
			return n
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, err
}

// Group returns a group by its ID or, if no ID matches, by its name.
func (g *Groups) Group(ref string) (Group, error) {
	var out Group
	err := g.c.View(func(tx *store.Tx) error {
		r, err := findGroup(tx, ref)
		if err == nil {
			out = toGroup(r, g.self())
			by, _, err := unconfirmed(tx, r.State.ID)
			if err != nil {
				return err
			}
			out.Unconfirmed = by != "" && out.Member
			if out.Admin {
				out.JoinRequests, err = joinRequests(tx, r.State.ID)
			}
			return err
		}
		return err
	})
	return out, err
}

// findGroup resolves a group by ID, else by a unique name.
func findGroup(tx *store.Tx, ref string) (*Record, error) {
	if id, err := content.ParseGroupID(strings.ToLower(ref)); err == nil {
		r, err := loadGroup(tx, id)
		if err != nil || r != nil {
			return r, err
		}
	}
	ids, err := groupIDs(tx)
	if err != nil {
		return nil, err
	}
	var found *Record
	for _, id := range ids {
		r, err := loadGroup(tx, id)
		if err != nil {
			return nil, err
		}
		if r != nil && r.State.Name == ref && ref != "" {
			if found != nil {
				return nil, ErrAmbiguousGroup
			}
			found = r
		}
	}
	if found == nil {
		return nil, ErrNoSuchGroup
	}
	return found, nil
}

// groupError maps the group package's refusals of the user's own actions
// to the SDK's errors.
func groupError(err error) error {
	switch {
	case errors.Is(err, ErrNotMember):
		return ErrNotGroupMember
	case errors.Is(err, ErrNotAdmin):
		return ErrNotGroupAdmin
	case errors.Is(err, ErrUnchanged):
		return ErrGroupUnchanged
	case errors.Is(err, ErrTooMany):
		return ErrGroupTooLarge
	case errors.Is(err, ErrNoKey):
		return err
	}
	return err
}

func checkGroupName(name string) error {
	if len(name) > content.MaxGroupNameBytes || !utf8.ValidString(name) {
		return ErrInvalidGroupArg
	}
	return nil
}

// CreateGroup creates a group of the user (its admin) and members, and
// sends it to them. Its timer is the account's default timer.
func (g *Groups) CreateGroup(name string, members []string) (Group, error) {
	if err := checkGroupName(name); err != nil {
		return Group{}, err
	}
	if err := g.c.CheckPeers(members); err != nil {
		return Group{}, err
	}
	var id content.GroupID
	rand.Read(id[:])
	return g.groupAction(func(tx *store.Tx, b *core.Batch) (*Record, error) {
		timer, err := core.AccountTimer(tx)
		if err != nil {
			return nil, err
		}
		ch, err := Create(id, name, g.self(), members, timer)
		if err != nil {
			return nil, groupError(err)
		}
		return g.commitChange(tx, nil, ch, b) // signs it: its ID becomes the group key's
	})
}

// AddMembers adds members to a group; the user must be its admin. They
// receive the group's state, and the user's sender key as it is now (so
// they cannot read earlier messages).
func (g *Groups) AddMembers(ref string, ids ...string) (Group, error) {
	if err := g.c.CheckPeers(ids); err != nil {
		return Group{}, err
	}
	return g.changeGroup(ref, func(s *State) { s.Members = append(s.Members, ids...) })
}

// RemoveMembers removes members from a group (and their admin rights);
// the user must be its admin. Every remaining member replaces its sender
// key, so the removed cannot read later messages.
func (g *Groups) RemoveMembers(ref string, ids ...string) (Group, error) {
	if slices.Contains(ids, g.self()) {
		return Group{}, errors.New("to take yourself out of a group, leave it (sky group leave GROUP)")
	}
	if err := g.c.CheckPeers(ids); err != nil {
		return Group{}, err
	}
	return g.changeGroup(ref, func(s *State) {
		s.Members = slices.DeleteFunc(s.Members, func(m string) bool { return slices.Contains(ids, m) })
	})
}

// RenameGroup renames a group; the user must be its admin.
func (g *Groups) RenameGroup(ref, name string) (Group, error) {
	if err := checkGroupName(name); err != nil {
		return Group{}, err
	}
	return g.changeGroup(ref, func(s *State) { s.Name = name })
}

// SetGroupAdmin makes a member an admin of the group (admin true) or takes
// that away; the user must be an admin.
func (g *Groups) SetGroupAdmin(ref, id string, admin bool) (Group, error) {
	if err := g.c.CheckPeer(id); err != nil && id != g.self() {
		return Group{}, err
	}
	var member bool
	info, err := g.Group(ref)
	if err != nil {
		return Group{}, err
	}
	member = slices.Contains(info.Members, id)
	if !member {
		return Group{}, fmt.Errorf("%s is not a member of the group; add them first", id)
	}
	return g.changeGroup(ref, func(s *State) {
		if admin {
			s.Admins = append(s.Admins, id)
		} else {
			s.Admins = slices.DeleteFunc(s.Admins, func(a string) bool { return a == id })
		}
	})
}

// SetGroupTimer changes a group's disappearing-messages timer (0: off);
// the user must be an admin.
func (g *Groups) SetGroupTimer(ref string, d time.Duration) (Group, error) {
	if !content.ValidTimer(d) || d%time.Second != 0 {
		return Group{}, core.ErrInvalidTimer
	}
	return g.changeGroup(ref, func(s *State) { s.Timer = d })
}

// changeGroup makes and sends an admin's change of a group.
func (g *Groups) changeGroup(ref string, edit func(*State)) (Group, error) {
	return g.groupAction(func(tx *store.Tx, b *core.Batch) (*Record, error) {
		r, err := findGroup(tx, ref)
		if err != nil {
			return nil, err
		}
		ch, err := r.Propose(g.self(), edit)
		if err != nil {
			return nil, groupError(err)
		}
		return g.commitChange(tx, r, ch, b)
	})
}

// groupAction runs a group action in one transaction and then announces
// what it did and wakes the outbox.
func (g *Groups) groupAction(fn func(tx *store.Tx, b *core.Batch) (*Record, error)) (Group, error) {
	var out Group
	err := g.c.Act(func(tx *store.Tx, b *core.Batch) error {
		r, err := fn(tx, b)
		if err != nil {
			return err
		}
		out = toGroup(r, g.self())
		return nil
	})
	return out, err
}

// LeaveGroup leaves a group. An admin leaves with a change (making another
// member admin if it was the only one); anyone else tells the members, who
// stop sending to the user at once, and an admin removes the user.
func (g *Groups) LeaveGroup(ref string) error {
	_, err := g.groupAction(func(tx *store.Tx, b *core.Batch) (*Record, error) {
		r, err := findGroup(tx, ref)
		if err != nil {
			return nil, err
		}
		ch, ok, err := r.LeaveChange(g.self())
		if ok && r.Proof != nil && len(r.State.Admins) == 1 {
			// The new admin must be one whose identity key is known (it
			// signs from now on): the first such member.
			sg := g.signer(tx)
			for _, m := range ch.Members {
				if _, known := sg.lookup(m); known {
					ch.Admins = []string{m}
					break
				}
			}
		}
		if err != nil {
			return nil, groupError(err)
		}
		if ok {
			return g.commitChange(tx, r, ch, b)
		}
		for _, m := range r.Recipients(g.self()) {
			if err := g.c.EnqueueControl(tx, m, &content.Content{Kind: content.KindGroupLeave, GroupID: r.State.ID}); err != nil {
				return nil, err
			}
		}
		next := *r
		next.Left = true
		if err := g.dropGroupKeys(tx, &next); err != nil {
			return nil, err
		}
		if err := saveGroup(tx, &next); err != nil {
			return nil, err
		}
		return &next, g.announceChange(tx, &next, g.self(), Diff{Left: []string{g.self()}}, b)
	})
	return err
}

// commitChange applies the user's own change ch to r (nil: a new group),
// stores it, shows it, and sends it to every member of the group before and
// after it (the removed learn they were removed). If someone who held the
// user's sender key is gone, the key is replaced first, and the change
// carries the new key to the remaining members.
func (g *Groups) commitChange(tx *store.Tx, r *Record, ch Change, b *core.Batch) (*Record, error) {
	if err := r.Seal(&ch, g.signer(tx)); err != nil {
		return nil, groupError(err)
	}
	if r != nil && r.Proof == nil {
		// The group was made before versions were signed: ch made the
		// signed group that replaces it, under a new ID.
		if err := g.moveFrom(tx, r, b); err != nil {
			return nil, err
		}
		r = nil
	}
	next, out, err := ApplySigned(r, ch, g.self(), g.self())
	if err != nil {
		return nil, groupError(err)
	}
	if err := g.afterChange(tx, r, next, out, g.self(), b); err != nil {
		return nil, err
	}
	var dist []byte
	var nextSeq uint64
	if next.Member(g.self()) {
		if dist, nextSeq, err = g.OwnDistribution(tx, next.State.ID); err != nil {
			return nil, err
		}
	}
	var old *State
	if r != nil {
		old = &r.State
	}
	sent, err := loadSent(tx, next.State.ID)
	if err != nil {
		return nil, err
	}
	shared, err := g.queueSharedUpdate(tx, old, next, sent) // updatev2.go
	if err != nil {
		return nil, err
	}
	for _, m := range changeRecipients(old, next, g.self()) {
		if shared[m] {
			continue
		}
		body, err := g.updateBody(tx, old, next, m)
		if err != nil {
			return nil, err
		}
		if next.Active(m) && dist != nil {
			body.Distribution, body.NextSeq = dist, nextSeq
			sent = append(sent, m)
		}
		if err := g.c.EnqueueControl(tx, m, &content.Content{Kind: content.KindGroupUpdate, GroupID: next.State.ID, Timer: next.State.Timer, Group: body}); err != nil {
			return nil, err
		}
		if err := g.shareReceipts(tx, old, next, m); err != nil {
			return nil, err
		}
	}
	if dist != nil {
		if err := saveSent(tx, next.State.ID, sent); err != nil {
			return nil, err
		}
	}
	b.Queued = true
	return next, nil
}

// changeRecipients are those a change goes to: the members before and
// after it, but the user and those who left on their own.
func changeRecipients(old *State, next *Record, self string) []string {
	var all []string
	if old != nil {
		all = append(all, old.Members...)
	}
	all = slices.Compact(slices.Sorted(slices.Values(append(all, next.State.Members...))))
	return slices.DeleteFunc(all, func(m string) bool { return m == self || slices.Contains(next.Departed, m) })
}

// updateBody is the state sent to member m, with the access keys the user
// knows of the members m may not have heard from: all of them for a member
// new to the group, else those just added.
func (g *Groups) updateBody(tx *store.Tx, old *State, next *Record, m string) (*content.Group, error) {
	body := &content.Group{Version: next.State.Version, Name: next.State.Name, Members: next.State.Members, Admins: next.State.Admins, Link: next.State.Link}
	if next.Proof != nil {
		p, err := next.Proof.MarshalBinary()
		if err != nil {
			return nil, err
		}
		body.Proof, body.Ancestry = p, next.ancestry()
	}
	if !next.State.IsMember(m) {
		return body, nil
	}
	share := next.State.Members
	if old != nil && old.IsMember(m) {
		share = nil
		for _, x := range next.State.Members {
			if !old.IsMember(x) {
				share = append(share, x)
			}
		}
	}
	for _, x := range share {
		if x == m || x == g.self() {
			continue // their own; the user's own travels in every content
		}
		key, err := core.PeerAccessKey(tx, x)
		if err != nil {
			return nil, err
		}
		if len(key) == content.AccessKeySize {
			body.AccessKeys = append(body.AccessKeys, content.MemberKey{ID: x, Key: key})
		}
	}
	return body, nil
}

// afterChange does what accepting a change (by anyone) means on this
// client: replace or forget sender keys, store the record, show the change,
// and use what was held for the group.
func (g *Groups) afterChange(tx *store.Tx, r, next *Record, out Outcome, by string, b *core.Batch) error {
	id := next.State.ID
	for _, m := range out.Forget {
		if err := forgetSenderKey(tx, m, id); err != nil {
			return err
		}
	}
	switch {
	case out.Removed:
		if err := g.dropGroupKeys(tx, next); err != nil {
			return err
		}
		if r != nil {
			if err := g.dropGroupKeys(tx, r); err != nil {
				return err
			}
		}
	case out.Rotate:
		if err := g.rotateSenderKey(tx, id); err != nil {
			return err
		}
	}
	if err := recordFormers(tx, r, next); err != nil {
		return err
	}
	if err := saveGroup(tx, next); err != nil {
		return err
	}
	if err := ensureGroupConversation(tx, &next.State, b.Now); err != nil {
		return err
	}
	return g.announceChange(tx, next, by, out.Diff, b)
}

// moveFrom retires an unsigned group the user moves to its signed
// replacement: the user leaves it (its history stays readable), and a
// notice says so.
func (g *Groups) moveFrom(tx *store.Tx, old *Record, b *core.Batch) error {
	next := *old
	next.Left = true
	if err := g.dropGroupKeys(tx, &next); err != nil {
		return err
	}
	if err := saveGroup(tx, &next); err != nil {
		return err
	}
	return g.announceChange(tx, &next, g.self(), Diff{Left: []string{g.self()}}, b)
}

// signer is what the user signs group versions with: its identity key,
// and the identity keys pinned for the members it makes admin.
func (g *Groups) signer(tx *store.Tx) *Signer {
	return &Signer{ID: g.self(), Key: g.c.Local.KeyPair.Curve(), Keys: func(id string) (curve.PublicKey, bool) {
		k, ok, err := protostore.Pinned(tx, protocol.Address{Name: id, DeviceID: core.AnnouncedDevice})
		return k, ok && err == nil
	}}
}

// dropGroupKeys forgets every sender key of the group, the user's own
// included (the user is no longer in it).
func (g *Groups) dropGroupKeys(tx *store.Tx, r *Record) error {
	for _, m := range append(slices.Clone(r.State.Members), g.self()) {
		if err := forgetSenderKey(tx, m, r.State.ID); err != nil {
			return err
		}
	}
	return saveSent(tx, r.State.ID, nil)
}

// rotateSenderKey replaces the user's sender key for a group: the old one
// is forgotten, and the next group message makes a new one and hands it to
// every member.
func (g *Groups) rotateSenderKey(tx *store.Tx, id content.GroupID) error {
	if err := forgetSenderKey(tx, g.self(), id); err != nil {
		return err
	}
	return saveSent(tx, id, nil)
}

// announceChange stores a notice of an accepted change in the group's
// conversation and queues its event.
func (g *Groups) announceChange(tx *store.Tx, r *Record, by string, d Diff, b *core.Batch) error {
	if d.Empty() {
		return nil
	}
	s := &r.State
	ct := &content.Content{Version: content.Version, Sender: by, SenderDevice: core.AnnouncedDevice, ID: core.NewContentID(),
		SentAt: b.Now.Truncate(time.Millisecond), Kind: content.KindGroupNotice, GroupID: s.ID, Timer: s.Timer,
		Notice: &content.GroupNotice{Version: s.Version, Name: s.Name, Joined: d.Joined, Added: d.Added, Removed: d.Removed,
			Left: d.Left, AdminsAdded: d.AdminsAdded, AdminsRemoved: d.AdminsRemoved, Renamed: d.Renamed, TimerChanged: d.TimerChanged,
			LinkChanged: d.LinkChanged, Link: s.Link != [32]byte{}, JoinRequests: d.JoinRequests}}
	body, err := content.Encode(ct)
	if err != nil {
		return err
	}
	own := by == g.self()
	m := store.Message{Conversation: s.ID.String(), Sender: by, MessageID: ct.ID.String(), Outgoing: own, State: store.Received,
		Body: body, SentAt: ct.SentAt, ReceivedAt: b.Now, Timer: s.Timer}
	if own {
		m.State, m.ReceivedAt = store.Sent, time.Time{}
	}
	if err := ensureGroupConversation(tx, s, b.Now); err != nil {
		return err
	}
	if err := tx.AddMessage(&m); err != nil {
		return err
	}
	msg, err := core.FromStore(m, false)
	if err != nil {
		return err
	}
	msg.GroupName = s.Name
	if d.Joined && !own {
		// A stranger's invitation shows as a request's.
		if msg.Request, err = notContact(tx, by); err != nil {
			return err
		}
	}
	b.Events = append(b.Events, &core.GroupEvent{Group: s.ID.String(), Change: *msg.Change})
	if !own {
		b.Events = append(b.Events, &core.MessageEvent{Message: msg})
	}
	return nil
}

// Sent-to sets: who holds the user's current sender key for a group.

func loadSent(tx *store.Tx, id content.GroupID) ([]string, error) {
	return core.StringList(tx, setGroupSent+id.String())
}

func saveSent(tx *store.Tx, id content.GroupID, list []string) error {
	return core.SaveStringList(tx, setGroupSent+id.String(), slices.Compact(slices.Sorted(slices.Values(list))))
}

// Audience returns a group's ID (ref: its ID or name) and the members the
// user sends to, for a message about the group that travels in 1:1
// sessions (package client/actions). The user must be a member.
func (g *Groups) Audience(ref string) (content.GroupID, []string, error) {
	var id content.GroupID
	var to []string
	err := g.c.View(func(tx *store.Tx) error {
		r, err := findGroup(tx, ref)
		if err != nil {
			return err
		}
		if !r.Member(g.self()) {
			return ErrNotGroupMember
		}
		id, to = r.State.ID, r.Recipients(g.self())
		return nil
	})
	return id, to, err
}

// IsMember reports whether peer is an active member of group id as the
// user's copy of it shows, and the user a member too.
func (g *Groups) IsMember(tx *store.Tx, id content.GroupID, peer string) (bool, error) {
	r, err := loadGroup(tx, id)
	if err != nil || r == nil {
		return false, err
	}
	return r.Member(g.self()) && r.Active(peer), nil
}

func notContact(tx *store.Tx, peer string) (bool, error) {
	ok, err := core.IsContact(tx, peer)
	return !ok, err
}
