package core

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/client/devices/devlist"
	"github.com/skymsg/sky/client/devices/linkproto"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/wire"
)

// Linking, the new device's side (package client/devices has the existing
// device's). Join is Register for a device that joins an account: it reads
// the existing device's offer, checks it against the link code, answers
// with its own ephemeral key and device keys, waits for the account sealed
// for it, checks that the signed device list it brings names this very
// device, and only then creates its store and registers its prekeys.

// ErrLinkExpired: the link code is unknown at the server or expired.
var ErrLinkExpired = errors.New("the server knows no such link code, or it expired: run 'sky devices link' on your other device again and use the new code")

// linkPoll is how often the waiting side looks for the other's message.
const linkPoll = 300 * time.Millisecond

// LinkGet reads one link slot, waiting (polling, on fresh connections when
// cn is nil) until it is written, the link expires or ctx ends.
func LinkGet(ctx context.Context, cn *conn.Conn, url string, id []byte, slot uint32, wait bool) ([]byte, error) {
	deadline := time.Now().Add(wire.LinkTTL)
	for {
		c := cn
		if c == nil {
			var err error
			if c, err = conn.Dial(ctx, url); err != nil {
				return nil, err
			}
		}
		r, err := c.Call(ctx, &wire.Request{Op: &wire.Request_LinkGet{LinkGet: &wire.LinkGet{Id: id, Slot: slot}}})
		if cn == nil {
			c.Close()
		}
		switch {
		case err == nil:
			return r.GetLinkBlob().GetBlob(), nil
		case !errors.Is(err, wire.ErrNotFound):
			return nil, serverError(err)
		case !wait:
			return nil, ErrLinkExpired
		case time.Now().After(deadline):
			return nil, errors.New("the other device did not answer before the link code expired; start again")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(linkPoll):
		}
	}
}

// LinkPut writes one link slot.
func LinkPut(ctx context.Context, cn *conn.Conn, id []byte, slot uint32, blob []byte) error {
	_, err := cn.Call(ctx, &wire.Request{Op: &wire.Request_LinkPut{LinkPut: &wire.LinkPut{Id: id, Slot: slot, Blob: blob}}})
	if errors.Is(err, wire.ErrLinkTaken) {
		return errors.New("that link code was used already (by another device, or someone who saw it): run 'sky devices link' again")
	}
	return serverError(err)
}

// Join links a new device to an existing account with the code the
// account's existing device showed (sky devices link), creating the
// encrypted store in dir (empty or missing) under passphrase. root must be
// the trust root the account pinned. If anything fails the new store is
// erased again.
func Join(ctx context.Context, dir string, passphrase []byte, serverURL string, root TrustRoot, code string, opts Options) (*Core, error) {
	url, err := conn.NormalizeURL(serverURL)
	if err != nil {
		return nil, err
	}
	if root.IsZero() {
		return nil, ErrNoTrustRoot
	}
	lc, err := linkproto.ParseCode(code)
	if err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	acct, authKey, regID, err := receiveAccount(ctx, url, root, lc)
	if err != nil {
		return nil, err
	}
	st, err := store.Create(dir, passphrase, store.Options{KDF: opts.KDF, MaxFailedUnlocks: opts.MaxFailedUnlocks})
	if err != nil {
		return nil, err
	}
	c, err := joinStore(ctx, st, url, root, acct, authKey, regID, opts)
	if err != nil {
		st.Wipe()
		return nil, err
	}
	return c, nil
}

// receiveAccount runs the new device's half of the link protocol.
func receiveAccount(ctx context.Context, url string, root TrustRoot, lc linkproto.Code) (*linkproto.Account, ed25519.PrivateKey, uint32, error) {
	cn, err := conn.Dial(ctx, url)
	if err != nil {
		return nil, nil, 0, err
	}
	defer cn.Close()
	if err := checkServerCertificate(cn.Welcome(), root); err != nil {
		return nil, nil, 0, err
	}
	offer, err := LinkGet(ctx, cn, url, lc.ID(), 0, false)
	if err != nil {
		return nil, nil, 0, err
	}
	a, err := lc.OpenOffer(offer)
	if err != nil {
		return nil, nil, 0, err
	}
	eph := linkproto.NewEphemeral()
	pub, authKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, 0, err
	}
	regID := identity.NewRegistrationID()
	ans, err := lc.SealAnswer(a, linkproto.Answer{Ephemeral: eph.Public(), AuthKey: pub, RegistrationID: regID})
	if err != nil {
		return nil, nil, 0, err
	}
	if err := LinkPut(ctx, cn, lc.ID(), 1, ans); err != nil {
		return nil, nil, 0, err
	}
	cn.Close() // an unauthenticated connection times out while we wait
	sealedAcct, err := LinkGet(ctx, nil, url, lc.ID(), 2, true)
	if err != nil {
		return nil, nil, 0, err
	}
	plain, err := lc.OpenAccount(eph, a, sealedAcct)
	if err != nil {
		return nil, nil, 0, err
	}
	acct, err := linkproto.DecodeAccount(plain)
	if err != nil {
		return nil, nil, 0, err
	}
	if err := checkJoined(acct, root, pub, regID); err != nil {
		return nil, nil, 0, err
	}
	return acct, authKey, regID, nil
}

// checkJoined checks what the existing device sent: the same trust root,
// and a device list signed by the account's key that names this device
// with its own keys.
func checkJoined(acct *linkproto.Account, root TrustRoot, pub ed25519.PublicKey, regID uint32) error {
	if !bytes.Equal(acct.TrustRoot, root.key.Bytes()) {
		return errors.New("the account you are linking to pins another trust root than the --trust-root given: check the key with your operator")
	}
	ik, err := identity.Parse(acct.IdentityKey)
	if err != nil {
		return fmt.Errorf("the linked account's identity key does not parse: %w", err)
	}
	l, err := devlist.Verify(acct.DeviceList, acct.ID, ik.Public)
	if err != nil {
		return fmt.Errorf("the linked account's device list does not check: %w", err)
	}
	d, ok := l.Has(acct.Device)
	if !ok || !bytes.Equal(d.AuthKey[:], pub) || d.RegistrationID != regID {
		return errors.New("the signed device list the other device sent does not name this device: nothing was linked")
	}
	return nil
}

// joinStore fills a new store with the linked account and registers this
// device's prekeys.
func joinStore(ctx context.Context, st *store.Store, url string, root TrustRoot, acct *linkproto.Account, authKey ed25519.PrivateKey, regID uint32, opts Options) (*Core, error) {
	now := opts.Clock.Now()
	err := st.Update(func(tx *store.Tx) error {
		if err := tx.SetSetting(setTrustRoot, root.key.Bytes()); err != nil {
			return err
		}
		if err := tx.SetSetting(setAccess, PutNum(PutBytes(nil, 1, acct.AccessKey), 2, 1)); err != nil {
			return err
		}
		if err := tx.SetLocalIdentity(store.LocalIdentity{KeyPair: acct.IdentityKey, RegistrationID: regID}); err != nil {
			return err
		}
		if err := tx.SetAccount(store.Account{ID: acct.ID, Server: url, DeviceID: acct.Device, Credential: store.Secret(authKey.Seed())}); err != nil {
			return err
		}
		if err := PutAcceptedList(tx, acct.ID, acct.DeviceList, now); err != nil {
			return err
		}
		if acct.DefaultTimer > 0 {
			if err := tx.SetSetting(setDefaultTimer, protowire.AppendVarint(nil, acct.DefaultTimer)); err != nil {
				return err
			}
		}
		for _, ct := range acct.Contacts {
			if err := tx.PutContact(store.Contact{ID: ct.ID, Name: ct.Name, AddedAt: now}); err != nil {
				return err
			}
			if err := SaveSeq(tx, ct.ID, SeqState{Upto: ct.Upto}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c, err := newClient(st, opts)
	if err != nil {
		return nil, err
	}
	if err := c.Update(func(tx *store.Tx) error { return c.GeneratePreKeys(tx, c.Opts.PreKeyTarget, c.Opts.PreKeyTarget) }); err != nil {
		c.halt()
		return nil, err
	}
	cn, err := conn.Dial(ctx, url)
	if err == nil {
		defer cn.Close()
		_, err = cn.Authenticate(ctx, acct.ID, acct.Device, authKey)
	}
	if err == nil {
		uctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, err = c.uploadPending(uctx, cn)
	}
	if err != nil {
		c.Opts.Logger.Warn("uploading prekeys failed; will retry on the next connection", "err", err)
	}
	return c, nil
}

// LinkAccount is what the existing device seals for a new one: the account,
// its identity key and the state a device needs to take part.
func (c *Core) LinkAccount(dev uint32, list []byte) (*linkproto.Account, error) {
	ik, err := c.Local.KeyPair.MarshalBinary()
	if err != nil {
		return nil, err
	}
	a := &linkproto.Account{ID: c.acct.ID, Device: dev, IdentityKey: ik, DeviceList: list, AccessKey: c.AccessKey(), TrustRoot: c.root.Bytes()}
	err = c.View(func(tx *store.Tx) error {
		cs, err := tx.Contacts()
		if err != nil {
			return err
		}
		for _, ct := range cs {
			if len(a.Contacts) < linkproto.MaxContacts {
				in, err := LoadSeq(tx, ct.ID)
				if err != nil {
					return err
				}
				a.Contacts = append(a.Contacts, linkproto.Contact{ID: ct.ID, Name: ct.Name, Upto: in.Upto})
			}
		}
		d, err := AccountTimer(tx)
		a.DefaultTimer = uint64(d / time.Second)
		return err
	})
	return a, err
}

// OwnDevice is this device's entry on the account's list.
func (c *Core) OwnDevice() devlist.Device { return c.ownDevice() }
