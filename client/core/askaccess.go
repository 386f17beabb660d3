package core

import (
	"context"
	"fmt"
	"time"

	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/protostore"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/wire"
)

// Asking a contact for their current access key (content.KindAccessRequest)
// after the server refused the token of the key they gave.
//
// The request is encrypted in the existing session and sealed like any
// message, and it goes on a fresh anonymous connection of its own, without
// a token (wire Request.access_request): the server sees what it saw when
// it refused the token, an anonymous connection writing to the contact, and
// learns nothing of who asks. It is asked once per refused key. The contact,
// if the user is still their contact, answers with a content.KindAccessKey
// message; like every content it carries their current key, which
// KeepPeerAccess records: a new key (a genuine rotation) and the waiting
// messages go out under it; the same key, and the contact has confirmed end
// to end the key whose token the server refuses — the user is told that the
// server refuses a valid token (AccessRefusedEvent.Confirmed).

// Settings of asking.
const (
	setAsked     = "access-asked/"     // + peer: the refused key the client asked peer about
	setConfirmed = "access-confirmed/" // + peer: a refused key peer confirmed afterwards
)

// askAccess asks peer, end to end, for their current access key, once per
// refused key. Failures are logged: the next refusal asks again.
func (c *Core) askAccess(ctx context.Context, peer string, refused []byte) {
	var asked []byte
	if err := c.View(func(tx *store.Tx) (err error) { asked, err = Setting(tx, setAsked+peer); return }); err != nil {
		return
	}
	if string(asked) == string(refused) {
		return
	}
	if err := c.sendAccessRequest(ctx, peer); err != nil {
		if ctx.Err() == nil {
			c.Opts.Logger.Warn("asking a contact for their current access key failed; asking again at the next refusal", "err", err)
		}
		return
	}
	err := c.Update(func(tx *store.Tx) error { return tx.SetSetting(setAsked+peer, refused) })
	if err != nil {
		c.Opts.Logger.Warn("recording an access request failed", "err", err)
	}
}

// sendAccessRequest encrypts an access request for each of peer's devices
// with a session, and sends each sealed on an anonymous connection of its
// own.
func (c *Core) sendAccessRequest(ctx context.Context, peer string) error {
	cert := c.SenderCertificate()
	if cert == nil {
		return errNoCertificate
	}
	now := c.Now().Truncate(time.Millisecond)
	ct := &content.Content{Version: content.Version, Sender: c.acct.ID, SenderDevice: c.acct.DeviceID, Recipient: peer,
		ID: NewContentID(), SentAt: now, Kind: content.KindAccessRequest, AccessKey: c.AccessKey()}
	body, err := content.Encode(ct)
	if err != nil {
		return err
	}
	padded, err := content.PadForSealing(body)
	if err != nil {
		return err
	}
	var sealed []DeviceCiphertext
	err = c.Update(func(tx *store.Tx) error {
		devs, err := tx.SessionDevices(peer)
		if err != nil {
			return err
		}
		if devs, err = onlyAnnounced(tx, peer, devs); err != nil {
			return err
		}
		ps := protostore.New(tx, c.Local, now)
		for _, d := range devs {
			m, err := protocol.Encrypt(ctx, ps.Protocol(), c.Self(), protocol.Address{Name: peer, DeviceID: d}, padded, now)
			if err != nil {
				return err
			}
			sealed = append(sealed, DeviceCiphertext{Device: d, Bytes: append([]byte{byte(m.Type)}, m.Bytes...)})
		}
		return ps.Commit()
	})
	if err != nil {
		return fmt.Errorf("encrypting an access request to %s: %w", peer, err)
	}
	if len(sealed) == 0 {
		return fmt.Errorf("no session with %s to ask in", peer)
	}
	for _, d := range sealed {
		env, err := c.SealFor(peer, d.Device, d.Bytes, cert)
		if err != nil {
			return err
		}
		if err := c.postAccessRequest(ctx, peer, d.Device, env); err != nil {
			return err
		}
	}
	return nil
}

// postAccessRequest sends one sealed access request on a fresh anonymous
// connection.
func (c *Core) postAccessRequest(ctx context.Context, peer string, dev uint32, env []byte) error {
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	ac, err := conn.DialAnonymous(dctx, c.acct.Server)
	if err != nil {
		return err
	}
	defer ac.Close()
	_, err = ac.Call(dctx, &wire.Request{Op: &wire.Request_AccessRequest{AccessRequest: &wire.Send{Account: peer, Device: dev, Content: env}}})
	uploaded.Add(int64(len(env)))
	return err
}

// answerAccessRequest answers a contact's access request with the own
// current access key (a KindAccessKey message, through the outbox: it
// goes with the contact's token, on an anonymous connection). Only a
// contact is answered: someone the user removed (or never accepted) learns
// nothing, which is what removing them meant.
func (c *Core) AnswerAccessRequest(tx *store.Tx, peer string) error {
	ok, err := IsContact(tx, peer)
	if err != nil || !ok {
		return err
	}
	now := c.Now().Truncate(time.Millisecond)
	ct := &content.Content{Version: content.Version, Sender: c.acct.ID, SenderDevice: c.acct.DeviceID, Recipient: peer,
		ID: NewContentID(), SentAt: now, Kind: content.KindAccessKey, AccessKey: c.AccessKey()}
	body, err := content.Encode(ct)
	if err != nil {
		return err
	}
	return tx.Enqueue(&store.Outgoing{To: peer, Payload: EncodeOutItem(OutItem{Content: body}), CreatedAt: now})
}

// confirmedRefused reports whether peer confirmed, after the server refused
// it, the very key k.
func confirmedRefused(tx *store.Tx, peer string, k []byte) (bool, error) {
	v, err := Setting(tx, setConfirmed+peer)
	return err == nil && len(v) > 0 && string(v) == string(k), err
}

// forgetAsking ends the record of a refusal once a send to peer went
// through.
func forgetAsking(tx *store.Tx, peer string) error {
	for _, s := range []string{setRefused, setAsked, setConfirmed} {
		if err := tx.DeleteSetting(s + peer); err != nil {
			return err
		}
	}
	return nil
}
