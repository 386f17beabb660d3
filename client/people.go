package client

import (
	"context"
	"github.com/skymsg/sky/client/core"

	"github.com/skymsg/sky/client/profile"
	"github.com/skymsg/sky/client/store"
)

// Contacts, requests and verification: the core keeps who is a contact;
// package client/requests decides on strangers, package client/trust on
// keys.

// AddContact adds (or renames) a contact; it also accepts a pending request
// from them.
func (c *Client) AddContact(id, name string) error {
	if err := c.core.AddContact(id, name); err != nil {
		return err
	}
	c.shareProfile(id)
	return nil
}

// RemoveContact removes a contact. The conversation stays; later messages
// from them arrive as a request again. The own access key is replaced, so
// the former contact's delivery token stops working (other contacts get the
// new key with the next message they receive).
func (c *Client) RemoveContact(id string) error {
	if err := c.core.RemoveContact(id); err != nil {
		return err
	}
	return c.core.Update(func(tx *store.Tx) error { return profile.Forget(tx, id) })
}

// Contacts returns the contacts, ordered by ID.
func (c *Client) Contacts() ([]Contact, error) { return c.core.Contacts() }

// ContactURI is what the user's QR code holds for others to add them:
// "sky:" and the Sky ID.
func (c *Client) ContactURI() string { return c.core.ContactURI() }

// Requests returns the pending message requests, oldest first, each with
// the groups its sender invited the user to.
func (c *Client) Requests() ([]Request, error) {
	rs, err := c.requests.List()
	if err != nil {
		return nil, err
	}
	err = c.core.View(func(tx *store.Tx) error {
		for i := range rs {
			if rs[i].Groups, err = c.groups.Invitations(tx, rs[i].ID); err != nil {
				return err
			}
		}
		return nil
	})
	return rs, err
}

// Accept accepts the message request from id: they become a contact.
// Receipts start with their next message.
func (c *Client) Accept(id string) error {
	if err := c.requests.Accept(id); err != nil {
		return err
	}
	c.shareProfile(id)
	return nil
}

// Reject rejects the message request from id: the request, its messages,
// the sessions and the pinned keys of id are destroyed, the groups id
// invited the user to are declined (destroyed with their messages; see
// Request.Groups), and what id sends later is dropped unread until the user
// adds them as a contact — in a group the user is in, with a DroppedEvent
// saying so.
func (c *Client) Reject(id string) error {
	err := c.requests.Reject(id, func(tx *store.Tx, peer string) error {
		if _, err := c.groups.Decline(tx, peer); err != nil {
			return err
		}
		if err := forgetPeer(tx, peer); err != nil {
			return err
		}
		return c.core.SyncRejected(tx, peer) // the account's other devices reject it too
	})
	if err == nil {
		c.core.KickOutbox()
	}
	return err
}

// rejectHere rejects a message request the user rejected on another of
// the account's devices, if it is one here.
func (c *Client) rejectHere(tx *store.Tx, id string) error {
	if ok, err := core.IsRequest(tx, id); err != nil || !ok {
		return err
	}
	if err := core.ForgetPeer(tx, id); err != nil {
		return err
	}
	if _, err := c.groups.Decline(tx, id); err != nil {
		return err
	}
	return forgetPeer(tx, id)
}

// SafetyNumber returns the safety number of the user and peer. It fails with
// ErrNotFound when no key of peer is known yet (exchange a message first).
func (c *Client) SafetyNumber(peer string) (SafetyNumber, error) { return c.trust.SafetyNumber(peer) }

// CompareScanned reports whether scanned, the content of the QR code on the
// peer's screen, matches the safety number of the user and peer.
func (c *Client) CompareScanned(peer string, scanned []byte) (bool, error) {
	return c.trust.CompareScanned(peer, scanned)
}

// Verify records that the user compared safety numbers with peer and they
// matched: number is the safety number the user compared (SafetyNumber's
// Digits, or the digits as read out; spaces and dashes are ignored). The key
// that number belongs to is marked verified. If peer presented a new key,
// that key replaces the pinned one (verified), the old session is archived,
// queued messages to peer go out again, and messages that arrived with the
// new key are read now.
//
// The number binds the decision to the key the user saw: if the key waiting
// for a decision changed after the user read its number (a server can
// present a new one at any moment), Verify fails with
// ErrSafetyNumberChanged and changes nothing.
func (c *Client) Verify(ctx context.Context, peer, number string) error {
	held, err := c.trust.Verify(ctx, peer, number)
	if err != nil {
		return err
	}
	// The account's other devices learn the verification end to end.
	if err := c.core.Update(func(tx *store.Tx) error { return c.core.SyncVerified(tx, peer) }); err != nil {
		return err
	}
	if len(held) > 0 {
		b, err := c.core.Receive(ctx, held)
		if err != nil {
			return err
		}
		c.core.AfterBatch(b)
	}
	c.core.KickOutbox()
	c.core.Notify()
	return nil
}

// KeepIdentity refuses peer's new identity key and keeps the pinned one:
// use it when the safety numbers of the new key did not match (someone other
// than peer presented it). The messages that came with the new key are
// destroyed unread, and sending to peer's pinned key resumes.
func (c *Client) KeepIdentity(peer string) error { return c.trust.KeepIdentity(peer) }

// SendAsRequest lets the messages waiting for peer after the server refused
// their delivery token (AccessRefusedEvent) go now, as message requests on
// the user's own connection: the server then learns that the user writes to
// peer. Without it they wait until peer answers the client's access request
// (or writes again) with their current key. Later messages try the token
// again.
func (c *Client) SendAsRequest(peer string) error { return c.core.SendAsRequest(peer) }
