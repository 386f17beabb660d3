package group

import (
	"fmt"
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol/senderkey"
)

// Invitations. Someone who is not a contact who adds the user to a group
// makes a message request like any other (issue 11 item 4): the inviter is
// filed as a request (by the client package, within Options.MaxRequests),
// the group's messages are shown as belonging to a request, at most
// Options.MaxRequestMessages of them are kept, until the user accepts the
// inviter (an invitation from a contact is not pending). Rejecting the
// inviter declines the group: its record, keys and messages are destroyed.

// setInvite + group ID: the stranger who added the user to the group.
const setInvite = "group-invite/"

// setInvites: bytes repeated, the groups with an invitation recorded.
const setInvites = "group-invites"

// invitedBy returns who invited the user to a group while that invitation
// still waits (the inviter is no contact yet), or "".
func invitedBy(tx *store.Tx, id content.GroupID) (string, error) {
	b, err := core.Setting(tx, setInvite+id.String())
	if err != nil || b == nil {
		return "", err
	}
	inviter := string(b)
	if ok, err := core.IsContact(tx, inviter); err != nil || ok {
		return "", err
	}
	return inviter, nil
}

// recordInvite notes that a stranger's change added the user to a group.
func recordInvite(tx *store.Tx, id content.GroupID, inviter string) error {
	if err := tx.SetSetting(setInvite+id.String(), []byte(inviter)); err != nil {
		return err
	}
	return core.AddToList(tx, setInvites, id.String())
}

func forgetInvite(tx *store.Tx, id content.GroupID) error {
	if err := tx.DeleteSetting(setInvite + id.String()); err != nil {
		return err
	}
	return core.RemoveFromList(tx, setInvites, id.String())
}

// Invited reports whether the user's membership of a group waits as an
// invitation from a stranger, and from whom.
func (g *Groups) Invited(tx *store.Tx, id content.GroupID) (inviter string, err error) {
	return invitedBy(tx, id)
}

// Invitations returns the names (or IDs, for unnamed groups) of the groups
// inviter invited the user to that wait for the user's decision.
func (g *Groups) Invitations(tx *store.Tx, inviter string) ([]string, error) {
	ids, err := g.invitationsFrom(tx, inviter)
	var out []string
	for _, id := range ids {
		r, err := loadGroup(tx, id)
		if err != nil {
			return nil, err
		}
		if r != nil {
			out = append(out, nameOf(r))
		}
	}
	return out, err
}

func nameOf(r *Record) string {
	if r.State.Name != "" {
		return r.State.Name
	}
	return r.State.ID.String()
}

func (g *Groups) invitationsFrom(tx *store.Tx, inviter string) ([]content.GroupID, error) {
	list, err := core.StringList(tx, setInvites)
	if err != nil {
		return nil, err
	}
	var out []content.GroupID
	for _, s := range list {
		id, err := content.ParseGroupID(s)
		if err != nil {
			return nil, core.ErrBadSetting
		}
		who, err := invitedBy(tx, id)
		if err != nil {
			return nil, err
		}
		if who == inviter {
			out = append(out, id)
		}
	}
	return out, nil
}

// Decline destroys the groups inviter invited the user to that wait for a
// decision — their records, sender keys, held items and messages — when the
// user rejects inviter, and returns their names.
func (g *Groups) Decline(tx *store.Tx, inviter string) ([]string, error) {
	ids, err := g.invitationsFrom(tx, inviter)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, id := range ids {
		r, err := loadGroup(tx, id)
		if err != nil {
			return nil, err
		}
		if r != nil {
			names = append(names, nameOf(r))
			if err := g.dropGroupKeys(tx, r); err != nil {
				return nil, err
			}
		}
		for _, s := range []string{setGroup, setGroupSeq} {
			if err := tx.DeleteSetting(s + id.String()); err != nil {
				return nil, err
			}
		}
		if err := core.RemoveFromList(tx, setGroups, id.String()); err != nil {
			return nil, err
		}
		if err := saveHeld(tx, id, nil); err != nil {
			return nil, err
		}
		if err := forgetInvite(tx, id); err != nil {
			return nil, err
		}
		if err := tx.DeleteConversation(id.String()); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// requestFull says why a message in a group the user was invited to by a
// stranger is dropped: the invitation keeps as many as a request may.
func (g *Groups) requestFull(tx *store.Tx, id content.GroupID, inviter string, now time.Time) (string, error) {
	ms, err := tx.Messages(id.String(), 0, 0)
	if err != nil {
		return "", err
	}
	n := 0
	for _, m := range ms {
		if !m.Outgoing && (m.ExpiresAt.IsZero() || m.ExpiresAt.After(now)) {
			n++
		}
	}
	if n < g.c.Opts.MaxRequestMessages {
		return "", nil
	}
	return fmt.Sprintf("a message beyond the %d a group invitation keeps; accept the request from %s, who invited you, to see more",
		g.c.Opts.MaxRequestMessages, inviter), nil
}

// BlockedSenderNote explains why a group message from someone the user
// rejected is dropped, when it is for a group the user is in ("" for any
// other: those are dropped without a trace).
func (g *Groups) BlockedSenderNote(tx *store.Tx, skm []byte, sender string) (string, error) {
	m, err := senderkey.ParseMessage(skm)
	if err != nil {
		return "", nil
	}
	r, err := loadGroup(tx, content.GroupID(m.DistributionID))
	if err != nil || r == nil || !r.Member(g.self()) {
		return "", err
	}
	return fmt.Sprintf("a message in group %s from %s, whose message request you rejected; add them as a contact to see their messages", nameOf(r), sender), nil
}
