package client

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/group"
	"github.com/skymsg/sky/client/store"
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
	ErrGroupTooLarge   = fmt.Errorf("a group has at most %d members", group.MaxMembers)
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
}

// GroupChange says what a change of a group changed.
type GroupChange struct {
	By      string // the admin who made it (or the member who left)
	Version uint64
	Name    string // the group's name after it
	// Joined: the group is new to this client (the user created it or was
	// added).
	Joined                     bool
	Added, Removed, Left       []string
	AdminsAdded, AdminsRemoved []string
	Renamed                    bool
	TimerChanged               bool
	Timer                      time.Duration // the group's timer after it
}

// GroupEvent: a group changed (created, members added or removed, a member
// left, renamed, admins or timer changed), by the user or by an admin. Only
// changes the client accepted are announced; refused ones are dropped
// (DroppedEvent).
type GroupEvent struct {
	Group  string
	Change GroupChange
}

func (*GroupEvent) event() {}

func toGroup(r *group.Record, self string) Group {
	return Group{ID: r.State.ID.String(), Name: r.State.Name, Version: r.State.Version, Members: slices.Clone(r.State.Members),
		Admins: slices.Clone(r.State.Admins), Departed: slices.Clone(r.Departed), Timer: r.State.Timer,
		Member: r.Member(self), Admin: r.Member(self) && r.State.IsAdmin(self)}
}

// Groups returns every group the client knows (also those the user left),
// by name.
func (c *Client) Groups() ([]Group, error) {
	var out []Group
	err := c.view(func(tx *store.Tx) error {
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
				out = append(out, toGroup(r, c.acct.ID))
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
func (c *Client) Group(ref string) (Group, error) {
	var out Group
	err := c.view(func(tx *store.Tx) error {
		r, err := findGroup(tx, ref)
		if err == nil {
			out = toGroup(r, c.acct.ID)
		}
		return err
	})
	return out, err
}

// findGroup resolves a group by ID, else by a unique name.
func findGroup(tx *store.Tx, ref string) (*group.Record, error) {
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
	var found *group.Record
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
	case errors.Is(err, group.ErrNotMember):
		return ErrNotGroupMember
	case errors.Is(err, group.ErrNotAdmin):
		return ErrNotGroupAdmin
	case errors.Is(err, group.ErrUnchanged):
		return ErrGroupUnchanged
	case errors.Is(err, group.ErrTooMany):
		return ErrGroupTooLarge
	}
	return err
}

func (c *Client) checkMembers(ids []string) error {
	for _, id := range ids {
		if err := c.checkPeer(id); err != nil {
			return fmt.Errorf("%w (%q)", err, id)
		}
	}
	return nil
}

func checkGroupName(name string) error {
	if len(name) > content.MaxGroupNameBytes || !utf8.ValidString(name) {
		return ErrInvalidGroupArg
	}
	return nil
}

// CreateGroup creates a group of the user (its admin) and members, and
// sends it to them. Its timer is the account's default timer.
func (c *Client) CreateGroup(name string, members []string) (Group, error) {
	if err := checkGroupName(name); err != nil {
		return Group{}, err
	}
	if err := c.checkMembers(members); err != nil {
		return Group{}, err
	}
	var id content.GroupID
	rand.Read(id[:])
	return c.groupAction(func(tx *store.Tx, b *batch) (*group.Record, error) {
		timer, err := defaultTimer(tx)
		if err != nil {
			return nil, err
		}
		ch, err := group.Create(id, name, c.acct.ID, members, timer)
		if err != nil {
			return nil, groupError(err)
		}
		return c.commitChange(tx, nil, ch, b)
	})
}

// AddMembers adds members to a group; the user must be its admin. They
// receive the group's state, and the user's sender key as it is now (so
// they cannot read earlier messages).
func (c *Client) AddMembers(ref string, ids ...string) (Group, error) {
	if err := c.checkMembers(ids); err != nil {
		return Group{}, err
	}
	return c.changeGroup(ref, func(s *group.State) { s.Members = append(s.Members, ids...) })
}

// RemoveMembers removes members from a group (and their admin rights);
// the user must be its admin. Every remaining member replaces its sender
// key, so the removed cannot read later messages.
func (c *Client) RemoveMembers(ref string, ids ...string) (Group, error) {
	if slices.Contains(ids, c.acct.ID) {
		return Group{}, errors.New("to take yourself out of a group, leave it (sky group leave GROUP)")
	}
	if err := c.checkMembers(ids); err != nil {
		return Group{}, err
	}
	return c.changeGroup(ref, func(s *group.State) {
		s.Members = slices.DeleteFunc(s.Members, func(m string) bool { return slices.Contains(ids, m) })
	})
}

// RenameGroup renames a group; the user must be its admin.
func (c *Client) RenameGroup(ref, name string) (Group, error) {
	if err := checkGroupName(name); err != nil {
		return Group{}, err
	}
	return c.changeGroup(ref, func(s *group.State) { s.Name = name })
}

// SetGroupAdmin makes a member an admin of the group (admin true) or takes
// that away; the user must be an admin.
func (c *Client) SetGroupAdmin(ref, id string, admin bool) (Group, error) {
	if err := c.checkPeer(id); err != nil && id != c.acct.ID {
		return Group{}, err
	}
	var member bool
	g, err := c.Group(ref)
	if err != nil {
		return Group{}, err
	}
	member = slices.Contains(g.Members, id)
	if !member {
		return Group{}, fmt.Errorf("%s is not a member of the group; add them first", id)
	}
	return c.changeGroup(ref, func(s *group.State) {
		if admin {
			s.Admins = append(s.Admins, id)
		} else {
			s.Admins = slices.DeleteFunc(s.Admins, func(a string) bool { return a == id })
		}
	})
}

// SetGroupTimer changes a group's disappearing-messages timer (0: off);
// the user must be an admin.
func (c *Client) SetGroupTimer(ref string, d time.Duration) (Group, error) {
	if !content.ValidTimer(d) || d%time.Second != 0 {
		return Group{}, ErrInvalidTimer
	}
	return c.changeGroup(ref, func(s *group.State) { s.Timer = d })
}

// changeGroup makes and sends an admin's change of a group.
func (c *Client) changeGroup(ref string, edit func(*group.State)) (Group, error) {
	return c.groupAction(func(tx *store.Tx, b *batch) (*group.Record, error) {
		r, err := findGroup(tx, ref)
		if err != nil {
			return nil, err
		}
		ch, err := r.Propose(c.acct.ID, edit)
		if err != nil {
			return nil, groupError(err)
		}
		return c.commitChange(tx, r, ch, b)
	})
}

// groupAction runs a group action in one transaction and then announces
// what it did and wakes the outbox.
func (c *Client) groupAction(fn func(tx *store.Tx, b *batch) (*group.Record, error)) (Group, error) {
	var out Group
	var b *batch
	err := c.update(func(tx *store.Tx) error {
		b = newBatch(c.now())
		r, err := fn(tx, b)
		if err != nil {
			return err
		}
		out = toGroup(r, c.acct.ID)
		return nil
	})
	if err != nil {
		return Group{}, err
	}
	c.afterBatch(b)
	poke(c.kick)
	c.notify()
	return out, nil
}

// LeaveGroup leaves a group. An admin leaves with a change (making another
// member admin if it was the only one); anyone else tells the members, who
// stop sending to the user at once, and an admin removes the user.
func (c *Client) LeaveGroup(ref string) error {
	_, err := c.groupAction(func(tx *store.Tx, b *batch) (*group.Record, error) {
		r, err := findGroup(tx, ref)
		if err != nil {
			return nil, err
		}
		ch, ok, err := r.LeaveChange(c.acct.ID)
		if err != nil {
			return nil, groupError(err)
		}
		if ok {
			return c.commitChange(tx, r, ch, b)
		}
		for _, m := range r.Recipients(c.acct.ID) {
			if err := c.enqueueControl(tx, m, &content.Content{Kind: content.KindGroupLeave, GroupID: r.State.ID}); err != nil {
				return nil, err
			}
		}
		next := *r
		next.Left = true
		if err := c.dropGroupKeys(tx, &next); err != nil {
			return nil, err
		}
		if err := saveGroup(tx, &next); err != nil {
			return nil, err
		}
		return &next, c.announceChange(tx, &next, c.acct.ID, group.Diff{Left: []string{c.acct.ID}}, b)
	})
	return err
}

// commitChange applies the user's own change ch to r (nil: a new group),
// stores it, shows it, and sends it to every member of the group before and
// after it (the removed learn they were removed). If someone who held the
// user's sender key is gone, the key is replaced first, and the change
// carries the new key to the remaining members.
func (c *Client) commitChange(tx *store.Tx, r *group.Record, ch group.Change, b *batch) (*group.Record, error) {
	next, out, err := group.Apply(r, ch, c.acct.ID)
	if err != nil {
		return nil, groupError(err)
	}
	if err := c.afterChange(tx, r, next, out, c.acct.ID, b); err != nil {
		return nil, err
	}
	var dist []byte
	var nextSeq uint64
	if next.Member(c.acct.ID) {
		if dist, nextSeq, err = c.ownDistribution(tx, next.State.ID); err != nil {
			return nil, err
		}
	}
	var old *group.State
	if r != nil {
		old = &r.State
	}
	sent, err := loadSent(tx, next.State.ID)
	if err != nil {
		return nil, err
	}
	for _, m := range changeRecipients(old, next, c.acct.ID) {
		g, err := c.updateBody(tx, old, next, m)
		if err != nil {
			return nil, err
		}
		if next.Active(m) && dist != nil {
			g.Distribution, g.NextSeq = dist, nextSeq
			sent = append(sent, m)
		}
		if err := c.enqueueControl(tx, m, &content.Content{Kind: content.KindGroupUpdate, GroupID: next.State.ID, Timer: next.State.Timer, Group: g}); err != nil {
			return nil, err
		}
	}
	if dist != nil {
		if err := saveSent(tx, next.State.ID, sent); err != nil {
			return nil, err
		}
	}
	b.queued = true
	return next, nil
}

// changeRecipients are those a change goes to: the members before and
// after it, but the user and those who left on their own.
func changeRecipients(old *group.State, next *group.Record, self string) []string {
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
func (c *Client) updateBody(tx *store.Tx, old *group.State, next *group.Record, m string) (*content.Group, error) {
	g := &content.Group{Version: next.State.Version, Name: next.State.Name, Members: next.State.Members, Admins: next.State.Admins}
	if !next.State.IsMember(m) {
		return g, nil
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
		if x == m || x == c.acct.ID {
			continue // their own; the user's own travels in every content
		}
		key, err := setting(tx, setPeerAccess+x)
		if err != nil {
			return nil, err
		}
		if len(key) == content.AccessKeySize {
			g.AccessKeys = append(g.AccessKeys, content.MemberKey{ID: x, Key: key})
		}
	}
	return g, nil
}

// enqueueControl queues a control content (a group update, leave or sender
// key) to peer through the 1:1 session: no message is stored, but it takes
// the conversation's next sequence number, so a dropped one shows as a gap.
func (c *Client) enqueueControl(tx *store.Tx, peer string, ct *content.Content) error {
	now := c.now().Truncate(time.Millisecond)
	seq, err := nextSeq(tx, peer)
	if err != nil {
		return err
	}
	ct.Version, ct.Sender, ct.SenderDevice, ct.Recipient = content.Version, c.acct.ID, c.acct.DeviceID, peer
	ct.ID, ct.SentAt, ct.Seq, ct.AccessKey = newContentID(), now, seq, c.accessKey()
	body, err := content.Encode(ct)
	if err != nil {
		return err
	}
	return tx.Enqueue(&store.Outgoing{To: peer, Payload: encodeOutItem(outItem{Content: body}), CreatedAt: now})
}

// afterChange does what accepting a change (by anyone) means on this
// client: replace or forget sender keys, store the record, show the change,
// and use what was held for the group.
func (c *Client) afterChange(tx *store.Tx, r, next *group.Record, out group.Outcome, by string, b *batch) error {
	id := next.State.ID
	for _, m := range out.Forget {
		if err := forgetSenderKey(tx, m, id); err != nil {
			return err
		}
	}
	switch {
	case out.Removed:
		if err := c.dropGroupKeys(tx, next); err != nil {
			return err
		}
		if r != nil {
			if err := c.dropGroupKeys(tx, r); err != nil {
				return err
			}
		}
	case out.Rotate:
		if err := c.rotateSenderKey(tx, id); err != nil {
			return err
		}
	}
	if err := saveGroup(tx, next); err != nil {
		return err
	}
	if err := ensureGroupConversation(tx, &next.State, b.now); err != nil {
		return err
	}
	return c.announceChange(tx, next, by, out.Diff, b)
}

// dropGroupKeys forgets every sender key of the group, the user's own
// included (the user is no longer in it).
func (c *Client) dropGroupKeys(tx *store.Tx, r *group.Record) error {
	for _, m := range append(slices.Clone(r.State.Members), c.acct.ID) {
		if err := forgetSenderKey(tx, m, r.State.ID); err != nil {
			return err
		}
	}
	return saveSent(tx, r.State.ID, nil)
}

// rotateSenderKey replaces the user's sender key for a group: the old one
// is forgotten, and the next group message makes a new one and hands it to
// every member.
func (c *Client) rotateSenderKey(tx *store.Tx, id content.GroupID) error {
	if err := forgetSenderKey(tx, c.acct.ID, id); err != nil {
		return err
	}
	return saveSent(tx, id, nil)
}

// announceChange stores a notice of an accepted change in the group's
// conversation and queues its event.
func (c *Client) announceChange(tx *store.Tx, r *group.Record, by string, d group.Diff, b *batch) error {
	if d.Empty() {
		return nil
	}
	s := &r.State
	ct := &content.Content{Version: content.Version, Sender: by, SenderDevice: announcedDevice, ID: newContentID(),
		SentAt: b.now.Truncate(time.Millisecond), Kind: content.KindGroupNotice, GroupID: s.ID, Timer: s.Timer,
		Notice: &content.GroupNotice{Version: s.Version, Name: s.Name, Joined: d.Joined, Added: d.Added, Removed: d.Removed,
			Left: d.Left, AdminsAdded: d.AdminsAdded, AdminsRemoved: d.AdminsRemoved, Renamed: d.Renamed, TimerChanged: d.TimerChanged}}
	body, err := content.Encode(ct)
	if err != nil {
		return err
	}
	own := by == c.acct.ID
	m := store.Message{Conversation: s.ID.String(), Sender: by, MessageID: ct.ID.String(), Outgoing: own, State: store.Received,
		Body: body, SentAt: ct.SentAt, ReceivedAt: b.now, Timer: s.Timer}
	if own {
		m.State, m.ReceivedAt = store.Sent, time.Time{}
	}
	if err := ensureGroupConversation(tx, s, b.now); err != nil {
		return err
	}
	if err := tx.AddMessage(&m); err != nil {
		return err
	}
	msg, err := fromStore(m, false)
	if err != nil {
		return err
	}
	msg.GroupName = s.Name
	b.events = append(b.events, &GroupEvent{Group: s.ID.String(), Change: *msg.Change})
	if !own {
		b.events = append(b.events, &MessageEvent{Message: msg})
	}
	return nil
}

// Sent-to sets: who holds the user's current sender key for a group.

func loadSent(tx *store.Tx, id content.GroupID) ([]string, error) {
	return stringList(tx, setGroupSent+id.String())
}

func saveSent(tx *store.Tx, id content.GroupID, list []string) error {
	return saveStringList(tx, setGroupSent+id.String(), slices.Compact(slices.Sorted(slices.Values(list))))
}
