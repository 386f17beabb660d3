package group

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/wire"
)

// ID names a group: 16 random bytes chosen by its creator.
type ID = content.GroupID

// MaxMembers bounds a group, its creator included.
const MaxMembers = content.MaxGroupMembers

// Errors; test with errors.Is. None names a member or the group's name.
var (
	ErrInvalid   = errors.New("the group state is malformed")
	ErrStale     = errors.New("the group change is older than the group's current state (a replay, or overtaken by a later change); it was ignored")
	ErrNotAdmin  = errors.New("the group change is not from an admin of the group; it was ignored")
	ErrConflict  = errors.New("the group change lost to a concurrent change by another admin; it was ignored")
	ErrDuplicate = errors.New("the group change was applied already")
	ErrNotMember = errors.New("you are not a member of that group (you left or were removed)")
	ErrUnchanged = errors.New("that changes nothing in the group")
	ErrTooMany   = fmt.Errorf("a group has at most %d members", MaxMembers)
)

// State is a group as its members see it.
type State struct {
	ID      ID
	Version uint64 // 1 at creation; every change adds at least 1
	Name    string
	Members []string // Sky IDs, sorted, unique
	Admins  []string // sorted, unique, all members
	Timer   time.Duration
	// Link is the digest of the group's invite link (LinkDigest), zero
	// when it has none: whoever shows an admin the link's secret may ask
	// to join.
	Link [32]byte
}

// Check reports whether s is well formed.
func (s *State) Check() error {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrInvalid, why) }
	switch {
	case s.ID == ID{}:
		return bad("no group ID")
	case s.Version == 0:
		return bad("no version")
	case len(s.Name) > content.MaxGroupNameBytes || !utf8.ValidString(s.Name):
		return bad("the name is too long or not text")
	case len(s.Members) > MaxMembers:
		return ErrTooMany
	case len(s.Members) == 0 || len(s.Admins) == 0:
		return bad("no members or no admin")
	case !content.ValidTimer(s.Timer) || s.Timer%time.Second != 0:
		return bad("bad timer")
	}
	for i, m := range s.Members {
		if !wire.ValidAccountID(m) || (i > 0 && s.Members[i-1] >= m) {
			return bad("the members are not sorted, unique Sky IDs")
		}
	}
	for i, a := range s.Admins {
		if (i > 0 && s.Admins[i-1] >= a) || !s.IsMember(a) {
			return bad("the admins are not sorted, unique members")
		}
	}
	return nil
}

// IsMember reports whether id is a member of s.
func (s *State) IsMember(id string) bool { return contains(s.Members, id) }

// IsAdmin reports whether id is an admin of s.
func (s *State) IsAdmin(id string) bool { return contains(s.Admins, id) }

func contains(sorted []string, id string) bool {
	_, ok := slices.BinarySearch(sorted, id)
	return ok
}

// clone returns a copy of s that shares no slices with it.
func (s State) clone() State {
	s.Members, s.Admins = slices.Clone(s.Members), slices.Clone(s.Admins)
	return s
}

// normalize sorts and deduplicates the lists and drops admins who are not
// members.
func (s *State) normalize() {
	s.Members = slices.Compact(slices.Sorted(slices.Values(s.Members)))
	s.Admins = slices.Compact(slices.Sorted(slices.Values(s.Admins)))
	s.Admins = slices.DeleteFunc(s.Admins, func(a string) bool { return !s.IsMember(a) })
}

// Change is a new state of a group and the admin who made it. Its author
// is never taken from the change itself: it is the peer of the 1:1 session
// that delivered it.
type Change struct {
	State
	Author string
	// Proof proves State (chain.go): its head's signer is the author,
	// whoever delivered it. Nil only for a group not migrated yet.
	Proof *Proof
	// Ancestry are the versions before Proof's head on its author's
	// branch, oldest first (at most MaxRecent): they let a member see
	// where that branch parts from its own. Only those hash-linked to the
	// head count.
	Ancestry []Version
}

// digestLabel starts the input of Digest.
const digestLabel = "sky/v1 group change"

// Digest identifies a change: the SHA-256 of its canonical encoding, author
// included. Every member computes the same digest for the same change, so
// concurrent changes are ordered alike everywhere.
func (c *Change) Digest() [32]byte {
	h := sha256.New()
	var n [8]byte
	str := func(s string) {
		binary.BigEndian.PutUint32(n[:4], uint32(len(s)))
		h.Write(n[:4])
		h.Write([]byte(s))
	}
	list := func(l []string) {
		binary.BigEndian.PutUint32(n[:4], uint32(len(l)))
		h.Write(n[:4])
		for _, s := range l {
			str(s)
		}
	}
	h.Write([]byte(digestLabel))
	h.Write([]byte{0})
	h.Write(c.ID[:])
	binary.BigEndian.PutUint64(n[:], c.Version)
	h.Write(n[:])
	str(c.Author)
	str(c.Name)
	list(c.Members)
	list(c.Admins)
	binary.BigEndian.PutUint64(n[:], uint64(c.Timer/time.Second))
	h.Write(n[:])
	if c.Link != ([32]byte{}) {
		h.Write(c.Link[:])
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// Create returns the change that creates a group: self and members, with
// self its only admin, at version 1.
func Create(id ID, name, self string, members []string, timer time.Duration) (Change, error) {
	s := State{ID: id, Version: 1, Name: name, Members: append(slices.Clone(members), self), Admins: []string{self}, Timer: timer}
	s.normalize()
	if err := s.Check(); err != nil {
		return Change{}, err
	}
	return Change{State: s, Author: self}, nil
}

// Diff is what a change changed, to show the members.
type Diff struct {
	Joined                     bool // the group is new to this member (created, or the member was added)
	Added, Removed, Left       []string
	AdminsAdded, AdminsRemoved []string
	Renamed                    bool
	TimerChanged               bool
	LinkChanged                bool     // the invite link was made, replaced or revoked
	JoinRequests               []string // asked to join with the invite link (only the admin who got it sees this)
}

// Empty reports whether d shows nothing.
func (d Diff) Empty() bool {
	return !d.Joined && !d.Renamed && !d.TimerChanged && !d.LinkChanged &&
		len(d.Added)+len(d.Removed)+len(d.Left)+len(d.AdminsAdded)+len(d.AdminsRemoved)+len(d.JoinRequests) == 0
}

// diff compares two states (old may be nil).
func diff(old *State, s *State) Diff {
	if old == nil {
		old = &State{}
	}
	return Diff{
		Added: minus(s.Members, old.Members), Removed: minus(old.Members, s.Members),
		AdminsAdded: minus(s.Admins, old.Admins), AdminsRemoved: minus(old.Admins, s.Admins),
		Renamed: old.Version != 0 && old.Name != s.Name, TimerChanged: old.Version != 0 && old.Timer != s.Timer,
		LinkChanged: old.Version != 0 && old.Link != s.Link,
	}
}

// minus returns the sorted elements of a that are not in b (both sorted).
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
