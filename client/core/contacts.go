package core

import (
	"errors"
	"github.com/skymsg/sky/client/devices/devlist"
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

// MaxNameBytes bounds a contact's name.
const MaxNameBytes = 200

// AddContact adds (or renames) a contact; it also accepts a pending request
// from them.
func (c *Core) AddContact(id, name string) error {
	if err := c.CheckPeer(id); err != nil {
		return err
	}
	if len(name) > MaxNameBytes || !utf8.ValidString(name) {
		return errors.New("the contact's name is too long or not text; shorten it")
	}
	err := c.Update(func(tx *store.Tx) error {
		if err := AcceptPeer(tx, id, c.Now()); err != nil {
			return err
		}
		ct, err := tx.Contact(id)
		if err != nil {
			return err
		}
		ct.Name = name
		if err := tx.PutContact(ct); err != nil {
			return err
		}
		return c.SyncContact(tx, id, name)
	})
	if err == nil {
		c.KickOutbox() // the account's other devices learn of it
	}
	return err
}

// RemoveContact removes a contact. The conversation stays; later messages
// from them arrive as a request again. The own access key is replaced, so
// the former contact's delivery token stops working (other contacts get the
// new key with the next message they receive).
func (c *Core) RemoveContact(id string) error {
	err := c.Update(func(tx *store.Tx) error {
		if ok, err := IsContact(tx, id); err != nil || !ok {
			if err == nil {
				err = ErrNotFound
			}
			return err
		}
		if err := tx.DeleteContact(id); err != nil {
			return err
		}
		return c.syncSettings(tx, PutBytes(nil, 5, []byte(id))) // the other devices remove them too
	})
	if err != nil {
		return err
	}
	c.KickOutbox()
	return c.RotateAccessKey()
}

// Contacts returns the contacts, ordered by ID.
func (c *Core) Contacts() ([]Contact, error) {
	var out []Contact
	err := c.View(func(tx *store.Tx) error {
		cs, err := tx.Contacts()
		if err != nil {
			return err
		}
		for _, ct := range cs {
			_, p, err := PeerIdentityOf(tx, ct.ID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			out = append(out, Contact{ID: ct.ID, Name: ct.Name, AddedAt: ct.AddedAt, Verified: p.Verified})
		}
		return nil
	})
	return out, err
}

// ForgetPeer destroys everything the core keeps about peer (request,
// conversation, sessions, pinned keys, sequence numbers, access key) and
// blocks them; the concerns forget their own part (the client package
// calls each).
func ForgetPeer(tx *store.Tx, peer string) error {
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
	if err := forgetAccess(tx, peer); err != nil {
		return err
	}
	for _, s := range []string{setIn, setPending, setSeqOut} {
		if err := tx.DeleteSetting(s + peer); err != nil {
			return err
		}
	}
	for d := AnnouncedDevice + 1; d <= devlist.MaxDeviceID; d++ {
		if err := tx.DeleteSetting(setIn + SeqKey(peer, d)); err != nil {
			return err
		}
	}
	if err := RemoveFromList(tx, setHeldPeers, peer); err != nil {
		return err
	}
	return tx.SetSetting(setBlocked+peer, []byte{1})
}

// WaitingFrom counts the messages from peer in their conversation that have
// not expired by now.
func WaitingFrom(tx *store.Tx, peer string, now time.Time) (int, error) {
	ms, err := tx.Messages(peer, 0, 0)
	n := 0
	for _, m := range ms {
		if !m.Outgoing && (m.ExpiresAt.IsZero() || m.ExpiresAt.After(now)) {
			n++
		}
	}
	return n, err
}

// ContactURI is what the user's QR code holds for others to add them:
// "sky:" and the Sky ID.
func (c *Core) ContactURI() string { return "sky:" + c.acct.ID }
