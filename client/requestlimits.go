package client

import (
	"fmt"

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
// dropped until the user accepts it.

// DefaultMaxRequests is the default of Options.MaxRequests.
const DefaultMaxRequests = 100

// DefaultMaxRequestMessages is the default of Options.MaxRequestMessages.
const DefaultMaxRequestMessages = 100

// startsRequest reports whether content of kind k from a stranger is shown
// in a request conversation (receipts and group traffic are not).
func startsRequest(k content.Kind) bool {
	return k == content.KindText || k == content.KindTimerChange
}

// requestRoom says why a message of kind k from peer, who is neither a
// contact nor in a request yet, must be dropped ("" when there is room for
// one more request).
func (c *Client) requestRoom(tx *store.Tx, peer string, k content.Kind) (drop string, err error) {
	if !startsRequest(k) {
		return "", nil
	}
	if ok, err := isContact(tx, peer); err != nil || ok {
		return "", err
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

// requestFull reports whether the request conversation with peer already
// holds the most messages from them a request may hold.
func (c *Client) requestFull(tx *store.Tx, peer string) (bool, error) {
	ms, err := tx.Messages(peer, 0, 0)
	if err != nil {
		return false, err
	}
	n := 0
	for _, m := range ms {
		if !m.Outgoing {
			n++
		}
	}
	return n >= c.opts.MaxRequestMessages, nil
}
