package client

import (
	"errors"
	"time"
	"unicode/utf8"

	"github.com/skymsg/sky/client/store"
)

// Contacts and message requests. A contact is someone the user added or
// wrote to. A message from anyone else arrives as a request: it is stored
// and shown (Message.Request), but no delivery or read receipt goes back
// until the user accepts. Rejecting deletes the request and its messages,
// and drops whatever that sender sends later, unread, until the user adds
// them as a contact.

// Contact is a person the user talks to.
type Contact struct {
	ID       string
	Name     string
	AddedAt  time.Time
	Verified bool // the user verified their safety number
}

// Request is a conversation started by someone who is not a contact.
type Request struct {
	ID      string
	FirstAt time.Time
	// Messages is how many of their messages wait (not yet expired).
	Messages int
}

// maxNameBytes bounds a contact's name.
const maxNameBytes = 200

// AddContact adds (or renames) a contact; it also accepts a pending request
// from them.
func (c *Client) AddContact(id, name string) error {
	if err := c.checkPeer(id); err != nil {
		return err
	}
	if len(name) > maxNameBytes || !utf8.ValidString(name) {
		return errors.New("the contact's name is too long or not text; shorten it")
	}
	return c.update(func(tx *store.Tx) error {
		if err := acceptPeer(tx, id, c.now()); err != nil {
			return err
		}
		ct, err := tx.Contact(id)
		if err != nil {
			return err
		}
		ct.Name = name
		return tx.PutContact(ct)
	})
}

// RemoveContact removes a contact. The conversation stays; later messages
// from them arrive as a request again. The own access key is replaced, so
// the former contact's delivery token stops working (other contacts get the
// new key with the next message they receive).
func (c *Client) RemoveContact(id string) error {
	err := c.update(func(tx *store.Tx) error {
		if ok, err := isContact(tx, id); err != nil || !ok {
			if err == nil {
				err = ErrNotFound
			}
			return err
		}
		return tx.DeleteContact(id)
	})
	if err != nil {
		return err
	}
	return c.rotateAccessKey()
}

// Contacts returns the contacts, ordered by ID.
func (c *Client) Contacts() ([]Contact, error) {
	var out []Contact
	err := c.view(func(tx *store.Tx) error {
		cs, err := tx.Contacts()
		if err != nil {
			return err
		}
		for _, ct := range cs {
			_, p, err := peerIdentity(tx, ct.ID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			out = append(out, Contact{ID: ct.ID, Name: ct.Name, AddedAt: ct.AddedAt, Verified: p.Verified})
		}
		return nil
	})
	return out, err
}

// Requests returns the pending message requests, oldest first.
func (c *Client) Requests() ([]Request, error) {
	var out []Request
	now := c.now()
	err := c.view(func(tx *store.Tx) error {
		rs, err := tx.Requests()
		if err != nil {
			return err
		}
		for _, r := range rs {
			n, err := waitingFrom(tx, r.ID, now)
			if err != nil {
				return err
			}
			out = append(out, Request{ID: r.ID, FirstAt: r.FirstAt, Messages: n})
		}
		return nil
	})
	return out, err
}

// Accept accepts the message request from id: they become a contact.
// Receipts start with their next message.
func (c *Client) Accept(id string) error {
	return c.update(func(tx *store.Tx) error {
		if ok, err := isRequest(tx, id); err != nil || !ok {
			if err == nil {
				err = ErrNotFound
			}
			return err
		}
		return acceptPeer(tx, id, c.now())
	})
}

// Reject rejects the message request from id: the request, its messages,
// the sessions and the pinned keys of id are destroyed, and what id sends
// later is dropped unread until the user adds them as a contact.
func (c *Client) Reject(id string) error {
	return c.update(func(tx *store.Tx) error {
		if ok, err := isRequest(tx, id); err != nil || !ok {
			if err == nil {
				err = ErrNotFound
			}
			return err
		}
		return forgetPeer(tx, id)
	})
}

// forgetPeer destroys everything about peer and blocks them.
func forgetPeer(tx *store.Tx, peer string) error {
	if err := tx.DeleteRequest(peer); err != nil {
		return err
	}
	if err := tx.DeleteConversation(peer); err != nil {
		return err
	}
	devs, err := tx.SessionDevices(peer)
	if err != nil {
		return err
	}
	for _, d := range append(devs, 1) {
		if err := tx.DeletePeerIdentity(store.Address{Name: peer, Device: d}); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if err := tx.DeleteSessions(peer); err != nil {
		return err
	}
	for _, s := range []string{setIn, setTimerV, setPending, setHeldEnv, setSeqOut, setPeerAccess} {
		if err := tx.DeleteSetting(s + peer); err != nil {
			return err
		}
	}
	if err := removeFromList(tx, setHeldPeers, peer); err != nil {
		return err
	}
	return tx.SetSetting(setBlocked+peer, []byte{1})
}
