package group

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/wire"
)

// Invite links (issue 15). An admin makes a link: its own Sky ID, the
// group's ID and a random 16-byte secret, as text
//
//	sky:join:ADMIN:GROUP:SECRET   (GROUP and SECRET in hex)
//
// The group's signed state holds only the secret's digest (State.Link,
// LinkDigest), so every admin can check a request and every member sees
// that a link exists, but only whoever holds the link can use it; a new
// version without it (or with another) revokes it. Whoever has the link
// asks the admin to be let in (KindGroupJoin, a sealed message like a
// message request, carrying the group ID and the secret); the admin's
// client checks the secret against the group's current link and lists
// the request, and the admin approves (adds the member, who then gets
// the signed state like any invitee) or denies it.
//
// What the link reveals: to whoever holds it, the admin's Sky ID and the
// group's ID, and that they may ask; nothing of the group's name or
// members until an admin lets them in. To the server, nothing: the
// request is a sealed message to the admin, and the link's digest travels
// only inside the group's end-to-end encrypted updates.

// MaxJoinRequests bounds the requests waiting per group, so strangers
// holding a link cannot fill the admin's disk.
const MaxJoinRequests = 100

const (
	setLinkSecret = "group-link/"  // + group ID: the secret of the link this client made
	setJoins      = "group-joins/" // + group ID: bytes repeated, who asked to join
	setAsked      = "group-asked/" // + group ID: the admin the user asked to join through
	linkLabel     = "sky/v2 group invite link"
	linkPrefix    = "sky:join:"
)

// Errors of invite links.
var (
	ErrBadLink = errors.New("that is not a Sky group invite link (it looks like sky:join:ADMIN:GROUP:SECRET)")
	ErrNoLink  = errors.New("the group has no invite link made on this device; make one with sky group link GROUP --new")
)

// LinkDigest is what a group's state holds of its invite link's secret.
func LinkDigest(id ID, secret []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(linkLabel + "\x00"))
	h.Write(id[:])
	h.Write(secret)
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// Link is a parsed invite link.
type Link struct {
	Admin  string
	Group  ID
	Secret []byte
}

// String writes the link as text.
func (l Link) String() string {
	return linkPrefix + l.Admin + ":" + l.Group.String() + ":" + hex.EncodeToString(l.Secret)
}

// ParseLink reads a link as String writes it.
func ParseLink(s string) (Link, error) {
	parts := strings.Split(strings.TrimPrefix(strings.TrimSpace(s), linkPrefix), ":")
	if !strings.HasPrefix(strings.TrimSpace(s), linkPrefix) || len(parts) != 3 || !wire.ValidAccountID(parts[0]) {
		return Link{}, ErrBadLink
	}
	id, err := content.ParseGroupID(parts[1])
	secret, serr := hex.DecodeString(parts[2])
	if err != nil || serr != nil || len(secret) != content.JoinSecretSize {
		return Link{}, ErrBadLink
	}
	return Link{Admin: parts[0], Group: id, Secret: secret}, nil
}

// MakeInviteLink gives a group a new invite link (revoking any earlier
// one), signed into the group's state; the user must be an admin.
func (g *Groups) MakeInviteLink(ref string) (string, Group, error) {
	secret := make([]byte, content.JoinSecretSize)
	rand.Read(secret)
	var link string
	out, err := g.groupAction(func(tx *store.Tx, b *core.Batch) (*Record, error) {
		r, err := findGroup(tx, ref)
		if err != nil {
			return nil, err
		}
		digest := LinkDigest(r.State.ID, secret)
		next, err := g.proposeAndCommit(tx, r, func(s *State) { s.Link = digest }, b)
		if err != nil {
			return nil, err
		}
		link = Link{Admin: g.self(), Group: next.State.ID, Secret: secret}.String()
		return next, tx.SetSetting(setLinkSecret+next.State.ID.String(), secret)
	})
	return link, out, err
}

// proposeAndCommit makes and sends the user's change of r.
func (g *Groups) proposeAndCommit(tx *store.Tx, r *Record, edit func(*State), b *core.Batch) (*Record, error) {
	ch, err := r.Propose(g.self(), edit)
	if err != nil {
		return nil, groupError(err)
	}
	return g.commitChange(tx, r, ch, b)
}

// InviteLink returns the group's current invite link, if this client made
// it.
func (g *Groups) InviteLink(ref string) (string, error) {
	var link string
	err := g.c.View(func(tx *store.Tx) error {
		r, err := findGroup(tx, ref)
		if err != nil {
			return err
		}
		secret, err := core.Setting(tx, setLinkSecret+r.State.ID.String())
		if err != nil {
			return err
		}
		if secret == nil || r.State.Link != LinkDigest(r.State.ID, secret) || !r.State.IsAdmin(g.self()) {
			return ErrNoLink
		}
		link = Link{Admin: g.self(), Group: r.State.ID, Secret: secret}.String()
		return nil
	})
	return link, err
}

// RevokeInviteLink takes the group's invite link away (a signed change);
// requests still waiting are dropped.
func (g *Groups) RevokeInviteLink(ref string) (Group, error) {
	return g.groupAction(func(tx *store.Tx, b *core.Batch) (*Record, error) {
		r, err := findGroup(tx, ref)
		if err != nil {
			return nil, err
		}
		if r.State.Link == ([32]byte{}) {
			return nil, ErrNoLink
		}
		next, err := g.proposeAndCommit(tx, r, func(s *State) { s.Link = [32]byte{} }, b)
		if err != nil {
			return nil, err
		}
		if err := tx.DeleteSetting(setLinkSecret + r.State.ID.String()); err != nil {
			return nil, err
		}
		return next, core.SaveStringList(tx, setJoins+r.State.ID.String(), nil)
	})
}

// JoinGroup asks the admin named in an invite link to let the user into
// its group. The admin's approval arrives as the group's signed state.
func (g *Groups) JoinGroup(link string) (Link, error) {
	l, err := ParseLink(link)
	if err != nil {
		return l, err
	}
	if err := g.c.CheckPeer(l.Admin); err != nil {
		return l, err
	}
	err = g.c.Act(func(tx *store.Tx, b *core.Batch) error {
		if r, err := loadGroup(tx, l.Group); err != nil || r.Member(g.self()) {
			if err == nil {
				err = errors.New("you are in that group already")
			}
			return err
		}
		if err := tx.SetSetting(setAsked+l.Group.String(), []byte(l.Admin)); err != nil {
			return err
		}
		b.Queued = true
		return g.c.EnqueueControl(tx, l.Admin, &content.Content{Kind: content.KindGroupJoin, GroupID: l.Group, JoinSecret: l.Secret})
	})
	return l, err
}

// asked reports whether the user asked to join group id (with a link).
func asked(tx *store.Tx, id ID) (bool, error) {
	b, err := core.Setting(tx, setAsked+id.String())
	return b != nil, err
}

// JoinRequests returns who asked to join a group with its link and waits.
func joinRequests(tx *store.Tx, id ID) ([]string, error) {
	return core.StringList(tx, setJoins+id.String())
}

// checkJoin says why a join request from peer for group id must be
// dropped ("" when it is for a group the user is an admin of, with its
// current link, and there is room).
func (g *Groups) checkJoin(tx *store.Tx, peer string, ct *content.Content) (string, error) {
	r, err := loadGroup(tx, ct.GroupID)
	switch {
	case err != nil:
		return "", err
	case r == nil || !r.Member(g.self()) || !r.State.IsAdmin(g.self()):
		return "a request to join a group you are not an admin of", nil
	case r.State.Link == ([32]byte{}) || LinkDigest(r.State.ID, ct.JoinSecret) != r.State.Link:
		return "a request to join a group with a wrong or revoked invite link", nil
	case r.State.IsMember(peer):
		return "a request to join a group from one of its members", nil
	}
	list, err := joinRequests(tx, ct.GroupID)
	if err == nil && len(list) >= MaxJoinRequests && !slices.Contains(list, peer) {
		return fmt.Sprintf("a request to join a group that has %d waiting already; approve or deny some (sky group show GROUP)", len(list)), nil
	}
	return "", err
}

// AdmitJoin reports whether a join request from peer (maybe a stranger)
// may be kept; if not it is dropped, and said why.
func (g *Groups) AdmitJoin(tx *store.Tx, peer string, ct *content.Content, b *core.Batch) (bool, error) {
	drop, err := g.checkJoin(tx, peer, ct)
	if err != nil || drop != "" {
		if err == nil {
			b.Drop(peer, drop)
		}
		return false, err
	}
	return true, nil
}

// applyJoin lists a valid join request and shows it to the admin.
func (g *Groups) applyJoin(tx *store.Tx, peer string, ct *content.Content, b *core.Batch) error {
	if ok, err := g.AdmitJoin(tx, peer, ct, b); err != nil || !ok {
		return err
	}
	list, err := joinRequests(tx, ct.GroupID)
	if err != nil || slices.Contains(list, peer) {
		return err
	}
	if err := core.SaveStringList(tx, setJoins+ct.GroupID.String(), slices.Sorted(slices.Values(append(list, peer)))); err != nil {
		return err
	}
	r, err := loadGroup(tx, ct.GroupID)
	if err != nil {
		return err
	}
	return g.announceChange(tx, r, peer, Diff{JoinRequests: []string{peer}}, b)
}

// AnswerJoin approves (adds the member) or denies a request to join.
func (g *Groups) AnswerJoin(ref, peer string, approve bool) (Group, error) {
	return g.groupAction(func(tx *store.Tx, b *core.Batch) (*Record, error) {
		r, err := findGroup(tx, ref)
		if err != nil {
			return nil, err
		}
		list, err := joinRequests(tx, r.State.ID)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(list, peer) {
			return nil, fmt.Errorf("%s has not asked to join the group (sky group show GROUP lists who has)", peer)
		}
		next := r
		if approve {
			if next, err = g.proposeAndCommit(tx, r, func(s *State) { s.Members = append(s.Members, peer) }, b); err != nil {
				return nil, err
			}
		}
		list = slices.DeleteFunc(list, func(x string) bool { return x == peer })
		return next, core.SaveStringList(tx, setJoins+r.State.ID.String(), list)
	})
}
