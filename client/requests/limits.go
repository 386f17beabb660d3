package requests

import (
	"fmt"
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
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
// way (package client/group: Groups.Room): once the user is in
// Options.MaxGroups groups, only contacts can add them to more.

// StartsRequest reports whether content of kind k from a stranger is shown
// in a request conversation (receipts and group traffic are not).
func StartsRequest(k content.Kind) bool {
	return k == content.KindText || k == content.KindTimerChange
}

// Room says why a message from peer that would start a request must be
// dropped before anything of it is kept: peer is not a contact, has no
// request waiting, and the user has no room for more ("" when it may be
// kept).
func (r *Requests) Room(tx *store.Tx, peer string) (drop string, err error) {
	if ok, err := core.IsContact(tx, peer); err != nil || ok {
		return "", err
	}
	if ok, err := core.IsRequest(tx, peer); err != nil || ok {
		return "", err
	}
	rs, err := tx.Requests()
	if err != nil {
		return "", err
	}
	if len(rs) >= r.c.Opts.MaxRequests {
		return fmt.Sprintf("a new message request while %d wait; accept or reject some to make room", len(rs)), nil
	}
	return "", nil
}

// Admit files a message from peer, who is not a contact, under their
// request: it starts the request, or says why the message is dropped (the
// request holds as many messages as one may).
func (r *Requests) Admit(tx *store.Tx, peer string, now time.Time) (drop string, err error) {
	req, err := core.IsRequest(tx, peer)
	if err != nil {
		return "", err
	}
	if !req {
		return "", tx.PutRequest(store.Request{ID: peer, FirstAt: now})
	}
	n, err := core.WaitingFrom(tx, peer, now)
	if err != nil || n < r.c.Opts.MaxRequestMessages {
		return "", err
	}
	return fmt.Sprintf("a message beyond the %d a message request keeps; accept the request to see more", r.c.Opts.MaxRequestMessages), nil
}
