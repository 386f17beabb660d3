package requests

import (
	"time"

	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
)

// Requests is the message-requests concern of a client: conversations
// started by someone who is not a contact, their bounds (limits.go), and
// the user's decision on them. A request is a record of the core's store
// (store.Request); this package decides what may start one and what
// accepting or rejecting one does.
type Requests struct{ c *core.Core }

// New returns the requests concern of the client core c.
func New(c *core.Core) *Requests { return &Requests{c: c} }

// Request is a conversation started by someone who is not a contact.
type Request struct {
	ID      string
	FirstAt time.Time
	// Messages is how many of their messages wait (not yet expired).
	Messages int
	// Groups are the groups they invited the user to, by name, that wait
	// with the request (rejecting it declines them).
	Groups []string
}

// List returns the pending message requests, oldest first.
func (r *Requests) List() ([]Request, error) {
	var out []Request
	now := r.c.Now()
	err := r.c.View(func(tx *store.Tx) error {
		rs, err := tx.Requests()
		if err != nil {
			return err
		}
		for _, q := range rs {
			n, err := core.WaitingFrom(tx, q.ID, now)
			if err != nil {
				return err
			}
			out = append(out, Request{ID: q.ID, FirstAt: q.FirstAt, Messages: n})
		}
		return nil
	})
	return out, err
}

// Accept accepts the message request from id: they become a contact.
// Receipts start with their next message.
func (r *Requests) Accept(id string) error {
	return r.c.Update(func(tx *store.Tx) error {
		if ok, err := core.IsRequest(tx, id); err != nil || !ok {
			if err == nil {
				err = core.ErrNotFound
			}
			return err
		}
		return core.AcceptPeer(tx, id, r.c.Now())
	})
}

// Reject rejects the message request from id: the request, its messages,
// the sessions and the pinned keys of id are destroyed, and what id sends
// later is dropped unread until the user adds them as a contact. forget
// destroys what the other concerns keep about id, in the same transaction.
func (r *Requests) Reject(id string, forget func(tx *store.Tx, peer string) error) error {
	return r.c.Update(func(tx *store.Tx) error {
		if ok, err := core.IsRequest(tx, id); err != nil || !ok {
			if err == nil {
				err = core.ErrNotFound
			}
			return err
		}
		if err := core.ForgetPeer(tx, id); err != nil {
			return err
		}
		return forget(tx, id)
	})
}

// File files peer, who is not a contact, as a request (if not yet): a
// stranger who invited the user to a group.
func (r *Requests) File(tx *store.Tx, peer string, now time.Time) error {
	if ok, err := core.IsRequest(tx, peer); err != nil || ok {
		return err
	}
	return tx.PutRequest(store.Request{ID: peer, FirstAt: now})
}
