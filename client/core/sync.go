package core

import (
	"bytes"
	"errors"
	"unicode/utf8"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/protostore"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
)

// Sent-message sync. A text this device sends also goes, end to end, to
// the account's other devices (those on its signed device list), as a
// KindSentSync carrying the text's own encoded content; each stores it as
// an outgoing message of the conversation it was sent in. Only the account's
// own devices, under its own identity key, can send one.

// SyncSent queues ct (a text just queued to its recipient or group,
// encoded as body) to the account's other devices, if it has any.
func (c *Core) SyncSent(tx *store.Tx, ct *content.Content, body []byte) error {
	return c.syncSent(tx, ct, body)
}

func (c *Core) syncSent(tx *store.Tx, ct *content.Content, body []byte) error {
	if ct.Kind != content.KindText && ct.Kind != content.KindTimerChange && ct.Kind != content.KindGroupText {
		return nil
	}
	devs, err := AnnouncedDevices(tx, c.acct.ID)
	if err != nil || len(devs) < 2 {
		return err
	}
	return c.EnqueueControl(tx, c.acct.ID, &content.Content{Kind: content.KindSentSync, Inner: body})
}

// FromOwnDevice reports whether the session a message from the account's
// own device dev decrypted under is under the account's own identity key:
// a device with another key (a server's forgery that slipped past the
// list) is not the account's.
func (c *Core) FromOwnDevice(ps *protostore.Stores, dev uint32) (bool, error) {
	k, ok, err := ps.PinnedIdentity(protocol.Address{Name: c.acct.ID, DeviceID: dev})
	return ok && k == c.Local.KeyPair.Public, err
}

// SentSyncInner decodes and checks what a KindSentSync carries: a text or
// a timer change this account sent to someone else, or a group text it
// sent (nil, with a drop noted, otherwise). A group text is the caller's
// to store (package group knows the group).
func (c *Core) SentSyncInner(ct *content.Content, b *Batch) *content.Content {
	self := c.acct.ID
	inner, err := content.Decode(ct.Inner)
	switch {
	case err != nil:
		b.Drop(self, "a sent-message sync whose message does not decode")
		return nil
	case inner.Kind == content.KindGroupText:
		if inner.Sender != self || inner.Recipient != "" || inner.GroupID == (content.GroupID{}) {
			b.Drop(self, "a sent-message sync of a group text this account did not send")
			return nil
		}
	case (inner.Kind != content.KindText && inner.Kind != content.KindTimerChange) || inner.Sender != self || inner.Recipient == self || !ValidID(inner.Recipient):
		b.Drop(self, "a sent-message sync that is not a text or timer change this account sent to someone")
		return nil
	}
	return inner
}

// ApplySentSync stores a message another device of the account sent (inner,
// from SentSyncInner), as that device's KindSentSync carries it.
func (c *Core) ApplySentSync(tx *store.Tx, ct, inner *content.Content, b *Batch) error {
	self := c.acct.ID
	if err := c.Track(tx, self, ct.Seq, 0, b); err != nil {
		return err
	}
	if inner == nil {
		return nil
	}
	peer := inner.Recipient
	if _, err := tx.FindMessage(peer, inner.ID.String()); err == nil {
		return nil // had it already
	}
	if err := AcceptPeer(tx, peer, b.Now); err != nil {
		return err
	}
	if _, err := c.Conversation(tx, peer, inner.Timer); err != nil {
		return err
	}
	m := store.Message{Conversation: peer, Sender: self, MessageID: inner.ID.String(), Outgoing: true, State: store.Sent,
		Body: ct.Inner, SentAt: inner.SentAt, Timer: inner.Timer}
	if err := tx.AddMessage(&m); err != nil {
		return err
	}
	msg, err := FromStore(m, false)
	if err != nil {
		return err
	}
	b.Events = append(b.Events, &MessageEvent{Message: msg})
	return nil
}

// Settings sync: what the user changes on one device that the others must
// know goes to the account's other devices as a KindSettingsSync. Its
// record: field 1, a contact (1: ID, 2: name); 2, a verified identity (1:
// ID, 2: key); 3, a message read (1: conversation, 2: message ID); 4, a
// rejected request (ID); 5, a removed contact (ID); 6, the account's new
// access key; 7, a newly linked device's request for the groups (empty).

// maxSyncEntries bounds the entries of one settings record.
const maxSyncEntries = 1000

// SyncContact queues a contact and its name to the account's other devices.
func (c *Core) SyncContact(tx *store.Tx, id, name string) error {
	return c.syncSettings(tx, PutBytes(nil, 1, PutBytes(PutBytes(nil, 1, []byte(id)), 2, []byte(name))))
}

// SyncVerified queues peer's identity key, verified by the user, to the
// account's other devices.
func (c *Core) SyncVerified(tx *store.Tx, peer string) error {
	_, p, err := PeerIdentityOf(tx, peer)
	if err != nil || !p.Verified {
		return err
	}
	return c.syncSettings(tx, PutBytes(nil, 2, PutBytes(PutBytes(nil, 1, []byte(peer)), 2, p.Key)))
}

// SyncRead queues what the user just read to the account's other devices
// (field 3: 1 conversation, 2 message ID), so its timers start there too.
func (c *Core) SyncRead(tx *store.Tx, read []Message) error {
	for len(read) > 0 {
		n := min(len(read), maxSyncEntries)
		var rec []byte
		for _, m := range read[:n] {
			rec = PutBytes(rec, 3, PutBytes(PutBytes(nil, 1, []byte(m.Conversation)), 2, []byte(m.ID)))
		}
		if err := c.syncSettings(tx, rec); err != nil {
			return err
		}
		read = read[n:]
	}
	return nil
}

func (c *Core) syncSettings(tx *store.Tx, rec []byte) error {
	devs, err := AnnouncedDevices(tx, c.acct.ID)
	if err != nil || len(devs) < 2 {
		return err
	}
	return c.EnqueueControl(tx, c.acct.ID, &content.Content{Kind: content.KindSettingsSync, Inner: rec})
}

// SyncRejected queues a message request the user rejected (field 4: the
// requester's ID) to the account's other devices.
func (c *Core) SyncRejected(tx *store.Tx, id string) error {
	return c.syncSettings(tx, PutBytes(nil, 4, []byte(id)))
}

// ApplySettingsSync applies a settings record from another device of the
// account. A verified key is taken only if it is the key pinned here (or
// none is: then it is pinned, verified); a different one is left to the
// key-change checks. It returns the message requests the user rejected
// there, for the caller to reject here (the concerns forget their part).
func (c *Core) ApplySettingsSync(tx *store.Tx, ct *content.Content, b *Batch) (rejected []string, err error) {
	self := c.acct.ID
	if err := c.Track(tx, self, ct.Seq, 0, b); err != nil {
		return nil, err
	}
	f, err := DecodeFields(ct.Inner)
	if err != nil || len(f.Bytes[1])+len(f.Bytes[2])+len(f.Bytes[3])+len(f.Bytes[4])+len(f.Bytes[5])+len(f.Bytes[6])+len(f.Bytes[7]) > maxSyncEntries {
		b.Drop(self, "a settings sync that does not decode")
		return nil, nil
	}
	for _, e := range f.Bytes[4] {
		if id := string(e); c.CheckPeer(id) == nil {
			rejected = append(rejected, id)
		}
	}
	if len(f.Bytes[7]) > 0 && c.handOff != nil {
		if err := c.handOff(tx); err != nil { // the new device asks for the groups
			return nil, err
		}
		b.Queued = true
	}
	return rejected, c.applySettings(tx, f, b)
}

// AskGroups queues, on a newly linked device, a request to the account's
// other devices for the groups the user is in (settings field 7): sent
// from the new device, it reaches the others only once the new device can
// be written to, so their answer is not lost to a device without keys.
func (c *Core) AskGroups() error {
	err := c.Update(func(tx *store.Tx) error { return c.syncSettings(tx, PutBytes(nil, 7, nil)) })
	if err == nil {
		c.KickOutbox()
	}
	return err
}

func (c *Core) applySettings(tx *store.Tx, f Fields, b *Batch) error {
	for _, e := range f.Bytes[1] {
		if err := c.applySyncedContact(tx, e, b); err != nil {
			return err
		}
	}
	for _, e := range f.Bytes[2] {
		if err := c.applySyncedVerified(tx, e, b); err != nil {
			return err
		}
	}
	for _, e := range f.Bytes[3] {
		if err := c.applySyncedRead(tx, e, b); err != nil {
			return err
		}
	}
	for _, e := range f.Bytes[5] { // a contact removed there
		if c.CheckPeer(string(e)) == nil {
			if err := tx.DeleteContact(string(e)); err != nil {
				return err
			}
		}
	}
	for _, k := range f.Bytes[6] { // the account's new access key
		if len(k) != content.AccessKeySize {
			b.Drop(c.acct.ID, "a synced access key of the wrong size")
			continue
		}
		if err := tx.SetSetting(setAccess, PutBytes(nil, 1, k)); err != nil {
			return err
		}
		c.mu.Lock()
		c.access, c.accessUploaded = bytes.Clone(k), false // uploading it again does no harm
		c.mu.Unlock()
		poke(c.sealedKick)
	}
	return nil
}

// applySyncedRead marks a message read that the user read on another
// device (its timer starts); no receipt goes out again.
func (c *Core) applySyncedRead(tx *store.Tx, e []byte, b *Batch) error {
	ef, err := DecodeFields(e)
	if err != nil {
		b.Drop(c.acct.ID, "a synced read marker that is malformed")
		return nil
	}
	m, err := tx.FindMessage(string(ef.One(1)), string(ef.One(2)))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil // expired here, or never arrived
	case err != nil:
		return err
	case m.Outgoing || m.State != store.Received:
		return nil
	}
	_, err = tx.MarkRead(m.ID, b.Now)
	return err
}

func (c *Core) applySyncedContact(tx *store.Tx, e []byte, b *Batch) error {
	ef, err := DecodeFields(e)
	id, name := string(ef.One(1)), string(ef.One(2))
	if err != nil || c.CheckPeer(id) != nil || len(name) > MaxNameBytes || !utf8.ValidString(name) {
		b.Drop(c.acct.ID, "a synced contact that is malformed")
		return nil
	}
	if err := AcceptPeer(tx, id, b.Now); err != nil {
		return err
	}
	ctc, err := tx.Contact(id)
	if err != nil {
		return err
	}
	ctc.Name = name
	return tx.PutContact(ctc)
}

func (c *Core) applySyncedVerified(tx *store.Tx, e []byte, b *Batch) error {
	ef, err := DecodeFields(e)
	peer, key := string(ef.One(1)), ef.One(2)
	if _, kerr := curve.ParsePublicKey(key); err != nil || kerr != nil || c.CheckPeer(peer) != nil {
		b.Drop(c.acct.ID, "a synced verification that is malformed")
		return nil
	}
	addr, p, err := PeerIdentityOf(tx, peer)
	switch {
	case errors.Is(err, store.ErrNotFound):
		addr, p = store.Address{Name: peer, Device: AnnouncedDevice}, store.PeerIdentity{Key: key, FirstSeen: b.Now}
	case err != nil:
		return err
	case !bytes.Equal(p.Key, key):
		b.Drop(c.acct.ID, "a verification from another of your devices for a key of "+peer+" that is not the one pinned here")
		return nil
	}
	p.Verified = true
	return tx.PutPeerIdentity(addr, p)
}

// AnnounceDevices tells every contact, end to end, that the account's
// device list changed (KindDevicesChanged, carrying the new version), so
// their next message reaches the devices now on it.
func (c *Core) AnnounceDevices() error {
	err := c.Update(func(tx *store.Tx) error {
		cs, err := tx.Contacts()
		if err != nil {
			return err
		}
		for _, ct := range cs {
			if ct.ID == c.acct.ID {
				continue
			}
			if err := c.EnqueueControl(tx, ct.ID, &content.Content{Kind: content.KindDevicesChanged}); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		c.KickOutbox()
	}
	return err
}
