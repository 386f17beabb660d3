package client

import (
	"fmt"
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/store"
)

// Message requests are bounded. Anyone can write to a Sky ID, and a hostile
// server can pose as any number of strangers (it issues the sender
// certificates), so without bounds requests alone could fill the user's
// disk. A message that would start a request beyond Options.MaxRequests is
// dropped before anything of it is stored, not even a session with its
// sender: the requests the user already has are never pushed out by new
// ones, and rejecting some makes room. A request keeps at most
// Options.MaxRequestMessages of its sender's messages; later ones are
// dropped until the user accepts it. Group invitations are bounded the same
// way: once the user is in Options.MaxGroups groups, only contacts can add
// them to more.

// DefaultMaxRequests is the default of Options.MaxRequests.
const DefaultMaxRequests = 100

// DefaultMaxRequestMessages is the default of Options.MaxRequestMessages.
const DefaultMaxRequestMessages = 100

// DefaultMaxGroups is the default of Options.MaxGroups.
const DefaultMaxGroups = 500

// startsRequest reports whether content of kind k from a stranger is shown
// in a request conversation (receipts and group traffic are not).
func startsRequest(k content.Kind) bool {
	return k == content.KindText || k == content.KindTimerChange
}

// requestRoom says why content ct from peer must be dropped before anything
// of it is kept: a message that would start a request, or a group
// invitation, from someone who is not a contact, when the user has no room
// for more ("" when it may be kept).
func (c *Client) requestRoom(tx *store.Tx, peer string, ct *content.Content) (drop string, err error) {
	if !startsRequest(ct.Kind) && ct.Kind != content.KindGroupUpdate {
		return "", nil
	}
	if ok, err := isContact(tx, peer); err != nil || ok {
		return "", err
	}
	if ct.Kind == content.KindGroupUpdate {
		return c.groupRoom(tx, ct.GroupID)
	}
	if ok, err := isRequest(tx, peer); err != nil || ok {
		return "", err
	}
	rs, err := tx.Requests()
	if err != nil {
		return "", err
	}
	if len(rs) >= c.opts.MaxRequests {
		return fmt.Sprintf("a new message request while %d wait; accept or reject some to make room", len(rs)), nil
	}
	return "", nil
}

// groupRoom says why a group change from someone who is not a contact must
// be dropped: it would add the user to a group when they are in as many as
// Options.MaxGroups already.
func (c *Client) groupRoom(tx *store.Tx, id content.GroupID) (drop string, err error) {
	r, err := loadGroup(tx, id)
	if err != nil || r.Member(c.acct.ID) {
		return "", err
	}
	ids, err := groupIDs(tx)
	if err != nil {
		return "", err
	}
	in := 0
	for _, id := range ids {
		g, err := loadGroup(tx, id)
		if err != nil {
			return "", err
		}
		if g.Member(c.acct.ID) {
			in++
		}
	}
	if in >= c.opts.MaxGroups {
		return fmt.Sprintf("a group invitation from someone not in your contacts while you are in %d groups; leave some, or add them as a contact", in), nil
	}
	return "", nil
}

// requestFull reports whether the request conversation with peer already
// holds the most messages from them a request may hold.
func (c *Client) requestFull(tx *store.Tx, peer string) (bool, error) {
	n, err := waitingFrom(tx, peer, c.now())
	return n >= c.opts.MaxRequestMessages, err
}

// waitingFrom counts the messages from peer in their conversation that have
// not expired by now.
func waitingFrom(tx *store.Tx, peer string, now time.Time) (int, error) {
	ms, err := tx.Messages(peer, 0, 0)
	n := 0
	for _, m := range ms {
		if !m.Outgoing && (m.ExpiresAt.IsZero() || m.ExpiresAt.After(now)) {
			n++
		}
	}
	return n, err
}
