package group

import (
	"fmt"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
)

// Groups is the groups concern of a client: the user's groups, their
// changes, sending to them and receiving from them, built on the client
// core (package client/core). Its state lives in the store's settings
// under its own names (store.go).
type Groups struct {
	c *core.Core
	// MaxGroups: once the user is in this many groups, a group invitation
	// from someone who is not a contact is dropped.
	MaxGroups int
	// sync bounds how often heads are asked for and answered (sync.go).
	sync syncLimiter
	// rivals bounds the proofs checked for non-members (formers.go).
	rivals rivalLimiter
}

// New returns the groups concern of the client core c.
func New(c *core.Core) *Groups { return &Groups{c: c, MaxGroups: c.Opts.MaxGroups} }

func (g *Groups) self() string { return g.c.ID() }

// Room says why a group change from someone who is not a contact must be
// dropped before anything of it is kept: it would add the user to a group
// when they are in as many as MaxGroups already ("" when it may be kept).
func (g *Groups) Room(tx *store.Tx, id content.GroupID) (drop string, err error) {
	r, err := loadGroup(tx, id)
	if err != nil || r.Member(g.self()) {
		return "", err
	}
	ids, err := groupIDs(tx)
	if err != nil {
		return "", err
	}
	in := 0
	for _, id := range ids {
		o, err := loadGroup(tx, id)
		if err != nil {
			return "", err
		}
		if o.Member(g.self()) {
			in++
		}
	}
	if in >= g.MaxGroups {
		return fmt.Sprintf("a group invitation from someone not in your contacts while you are in %d groups; leave some, or add them as a contact", in), nil
	}
	return "", nil
}

// Info tells the core about a group by its ID, for its messages: its name
// ("" if unknown) and whether the user's membership is a stranger's
// invitation still waiting.
func (g *Groups) Info(tx *store.Tx, ref string) (core.GroupInfo, error) {
	id, err := content.ParseGroupID(ref)
	if err != nil {
		return core.GroupInfo{}, nil
	}
	r, err := loadGroup(tx, id)
	if err != nil || r == nil {
		return core.GroupInfo{}, err
	}
	inviter, err := invitedBy(tx, id)
	if err != nil {
		return core.GroupInfo{}, err
	}
	on, err := receiptsOn(tx, r, g.self())
	return core.GroupInfo{Name: r.State.Name, Request: inviter != "", Receipts: on}, err
}

// UserIn reports whether the user is a member of a group (as this client
// knows it).
func (g *Groups) UserIn(tx *store.Tx, id content.GroupID) (bool, error) {
	r, err := loadGroup(tx, id)
	return err == nil && r != nil && r.Member(g.self()), err
}
