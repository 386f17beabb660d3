package group

import (
	"bytes"
	"fmt"
	"slices"
)

// Record is what one member's client keeps about a group.
type Record struct {
	State  State
	Author string   // who made State
	Digest [32]byte // of the change that made State
	// Base is the state State replaced, kept to judge a concurrent change
	// of the same version; nil when State came as an invitation.
	Base *State
	// Departed are members who left on their own and are not yet removed
	// by an admin; nobody sends them anything.
	Departed []string
	// Left says the user left the group (its notice is sent) and is
	// waiting to be removed; it sends and accepts nothing for it.
	Left bool
	// Proof proves State (chain.go); nil for a group made before
	// versions were signed, until an admin migrates it.
	Proof *Proof
	// Recent are the latest versions this member accepted, oldest first
	// (at most MaxRecent), to judge a change made from one of them.
	Recent []Version
}

// Outcome is what applying a change or a departure means for the member.
type Outcome struct {
	Diff Diff
	// Rotate: someone who held the member's sender key is gone, so the
	// member replaces it before its next group message.
	Rotate bool
	// Forget are members whose sender keys to forget.
	Forget []string
	// Removed: the user is no longer a member.
	Removed bool
}

// Member reports whether self takes part in the group: a member that has
// not left.
func (r *Record) Member(self string) bool { return r != nil && !r.Left && r.State.IsMember(self) }

// Active reports whether id counts as a member: in the state and not
// departed. Only active members' sender keys and messages are accepted.
func (r *Record) Active(id string) bool { return r.State.IsMember(id) && !contains(r.Departed, id) }

// Recipients returns the members self encrypts group messages and its
// sender key to: every active member but self, or none if self is not a
// member. Nothing is ever encrypted for anyone else.
func (r *Record) Recipients(self string) []string {
	if !r.Member(self) {
		return nil
	}
	out := make([]string, 0, len(r.State.Members))
	for _, m := range r.State.Members {
		if m != self && !contains(r.Departed, m) {
			out = append(out, m)
		}
	}
	return out
}

// active returns the active members of a record (none for nil).
func (r *Record) active() []string {
	if r == nil {
		return nil
	}
	return slices.DeleteFunc(slices.Clone(r.State.Members), func(m string) bool { return contains(r.Departed, m) })
}

// Apply judges change ch, delivered by its author's 1:1 session, for the
// member self whose record is r (nil: the group is unknown). It returns
// the new record, leaving r as it was, or an error that says why the change
// is refused: ErrInvalid, ErrStale, ErrNotAdmin, ErrConflict,
// ErrDuplicate, ErrNotMember.
func Apply(r *Record, ch Change, self string) (*Record, Outcome, error) {
	return apply(r, ch, self, false)
}

// apply is Apply; authorized says ch's author is known to be an admin
// from its signed proof, which may grant rights the member has not seen
// yet (Apply alone asks the member's current state).
func apply(r *Record, ch Change, self string, authorized bool) (*Record, Outcome, error) {
	if err := ch.Check(); err != nil {
		return nil, Outcome{}, err
	}
	if r != nil && ch.ID != r.State.ID {
		return nil, Outcome{}, fmt.Errorf("%w: a change of another group", ErrInvalid)
	}
	d := ch.Digest()
	next := &Record{State: ch.State.clone(), Author: ch.Author, Digest: d}
	var out Outcome
	switch {
	case r == nil || !r.State.IsMember(self):
		// An invitation: the group is new to self (or self was removed
		// and is added again). Trusted on first use.
		switch {
		case r != nil && ch.Version <= r.State.Version:
			return nil, out, ErrStale
		case !ch.IsMember(self):
			return nil, out, ErrNotMember
		case !ch.IsAdmin(ch.Author):
			return nil, out, ErrNotAdmin
		}
		var old *State
		if r != nil {
			old = &r.State
		}
		out.Diff = diff(old, &ch.State)
		out.Diff.Joined = true
		return next, out, nil
	case ch.Version < r.State.Version:
		return nil, out, ErrStale
	case ch.Version == r.State.Version:
		// Two changes of one version: judge the newcomer as if it had
		// come instead of the accepted one (its author an admin of the
		// state the accepted one replaced, or, for an invitation, of the
		// accepted state), and keep the greater digest.
		judge := r.Base
		if judge == nil {
			judge = &r.State
		}
		// A change that takes the other's author's admin right away
		// wins (a removed admin's concurrent change loses), unless each
		// removes the other; else the greater digest wins.
		chRemoves, rRemoves := !ch.IsAdmin(r.Author), !r.State.IsAdmin(ch.Author)
		switch {
		case d == r.Digest:
			return nil, out, ErrDuplicate
		case !judge.IsAdmin(ch.Author):
			return nil, out, ErrNotAdmin
		case rRemoves && !chRemoves:
			return nil, out, ErrConflict
		case chRemoves && !rRemoves:
		case bytes.Compare(d[:], r.Digest[:]) < 0:
			return nil, out, ErrConflict
		}
		if r.Base != nil {
			base := r.Base.clone()
			next.Base = &base
		}
	default:
		if !authorized && !r.State.IsAdmin(ch.Author) {
			return nil, out, ErrNotAdmin
		}
		base := r.State.clone()
		next.Base = &base
	}
	next.Left = r.Left
	next.Departed = slices.DeleteFunc(slices.Clone(r.Departed), func(m string) bool { return !next.State.IsMember(m) })
	out.Diff = diff(&r.State, &next.State)
	finish(r, next, self, &out)
	return next, out, nil
}

// finish fills in what follows from replacing r by next.
func finish(r, next *Record, self string, out *Outcome) {
	out.Removed = r.State.IsMember(self) && !next.State.IsMember(self)
	now := next.active()
	for _, m := range r.active() {
		if m != self && !contains(now, m) {
			out.Forget = append(out.Forget, m)
		}
	}
	out.Rotate = len(out.Forget) > 0 && next.Member(self)
}

// Depart records that member left the group on its own (its leave notice
// came over its own 1:1 session). Nothing is sent to it from now on; an
// admin removes it with a change.
func (r *Record) Depart(member, self string) (*Record, Outcome, error) {
	switch {
	case member == self || !r.State.IsMember(member):
		return nil, Outcome{}, ErrNotMember
	case contains(r.Departed, member):
		return nil, Outcome{}, ErrDuplicate
	}
	next := *r
	next.Departed = slices.Sorted(slices.Values(append(slices.Clone(r.Departed), member)))
	out := Outcome{Diff: Diff{Left: []string{member}}}
	finish(r, &next, self, &out)
	return &next, out, nil
}

// Propose returns the change an admin (self) makes by editing the current
// state: the edited state, normalized, at the next version. It is applied
// like anyone's change (Apply), then sent to the members.
func (r *Record) Propose(self string, edit func(*State)) (Change, error) {
	switch {
	case !r.Member(self):
		return Change{}, ErrNotMember
	case !r.State.IsAdmin(self):
		return Change{}, fmt.Errorf("%w (only an admin can change the group)", ErrNotAdmin)
	}
	s := r.State.clone()
	edit(&s)
	s.normalize()
	if s.Name == r.State.Name && s.Timer == r.State.Timer && s.Link == r.State.Link && slices.Equal(s.Members, r.State.Members) && slices.Equal(s.Admins, r.State.Admins) {
		return Change{}, ErrUnchanged
	}
	s.Version = r.State.Version + 1
	if err := s.Check(); err != nil {
		return Change{}, err
	}
	return Change{State: s, Author: self}, nil
}

// LeaveChange returns how self leaves the group. An admin leaves with a
// change that removes it (and, if no admin would be left, makes the first
// remaining member an admin); ok is then true. A member that is not an
// admin (or the last member) leaves with a notice to the others instead,
// and ok is false.
func (r *Record) LeaveChange(self string) (ch Change, ok bool, err error) {
	if !r.Member(self) {
		return Change{}, false, ErrNotMember
	}
	if !r.State.IsAdmin(self) || len(r.State.Members) == 1 {
		return Change{}, false, nil
	}
	s := r.State.clone()
	s.Members = slices.DeleteFunc(s.Members, func(m string) bool { return m == self })
	s.Admins = slices.DeleteFunc(s.Admins, func(m string) bool { return m == self })
	if len(s.Admins) == 0 {
		s.Admins = []string{s.Members[0]}
	}
	s.Version = r.State.Version + 1
	if err := s.Check(); err != nil {
		return Change{}, false, err
	}
	return Change{State: s, Author: self}, true, nil
}

// Redo returns the change with which an admin (self) makes again, on top of
// r, what its own change did that lost to a concurrent one: lost is the
// state its change made, base the state it was made from. Only what the
// winner did not already do is redone (ErrUnchanged: nothing).
func (r *Record) Redo(self string, base, lost *State) (Change, error) {
	d := diff(base, lost)
	d.Renamed, d.TimerChanged = base.Name != lost.Name, base.Timer != lost.Timer
	return r.Propose(self, func(s *State) {
		s.Members = append(s.Members, d.Added...)
		s.Members = slices.DeleteFunc(s.Members, func(m string) bool { return contains(d.Removed, m) })
		s.Admins = append(s.Admins, d.AdminsAdded...)
		s.Admins = slices.DeleteFunc(s.Admins, func(a string) bool { return contains(d.AdminsRemoved, a) })
		if d.Renamed {
			s.Name = lost.Name
		}
		if d.TimerChanged {
			s.Timer = lost.Timer
		}
		if base.Link != lost.Link {
			s.Link = lost.Link
		}
	})
}
