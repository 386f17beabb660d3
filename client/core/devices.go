package core

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/devices/devlist"
	"github.com/skymsg/sky/client/protostore"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/wire"
)

// Devices. An account's devices are the ones on its device list signed by
// its identity key (package client/devices/devlist); the server's word is
// not enough. So a device the server lists for an account — in the bundles
// it hands out, or as the sender of a message — that is not on the newest
// signed list the client accepted gets nothing: no session is made with it,
// nothing is encrypted to it (no message, no sender key), and what it sends
// is dropped. A list is accepted only if it verifies under the account's
// pinned identity key and its version does not go backwards (a replayed
// older list, or two different lists of one version, are refused with a
// DeviceListRefusedEvent and the accepted one kept). An account that never
// published a list has device 1 only. A server adding a device to someone's
// account is the device half of acceptance test 11 (Matrix's "More is
// Less"), and a change of a contact's devices is shown (DeviceListEvent).

// AnnouncedDevice is the device every account starts with.
const AnnouncedDevice uint32 = 1

// setDevList + account: field 1 the newest accepted signed list, field 2
// when it was last fetched (unix nanoseconds).
const setDevList = "devlist/"

// Announced reports whether dev is a device of peer announced end to end:
// on peer's accepted signed list, or device 1 if peer has none.
func Announced(tx *store.Tx, peer string, dev uint32) (bool, error) {
	l, _, err := AcceptedList(tx, peer)
	if err != nil || l == nil {
		return dev == AnnouncedDevice, err
	}
	_, ok := l.Has(dev)
	return ok, nil
}

// onlyAnnounced returns the devices of devs that peer announced.
func onlyAnnounced(tx *store.Tx, peer string, devs []uint32) ([]uint32, error) {
	var err error
	return slices.DeleteFunc(slices.Clone(devs), func(d uint32) bool {
		ok, e := Announced(tx, peer, d)
		err = errors.Join(err, e)
		return !ok
	}), err
}

// AnnouncedDevices returns peer's devices as its accepted list names them
// ([1] without a list).
func AnnouncedDevices(tx *store.Tx, peer string) ([]uint32, error) {
	l, _, err := AcceptedList(tx, peer)
	if err != nil || l == nil {
		return []uint32{AnnouncedDevice}, err
	}
	return l.IDs(), nil
}

// AcceptedList returns the newest signed list of account the client
// accepted (nil if none) and when it was last fetched.
func AcceptedList(tx *store.Tx, account string) (*devlist.List, time.Time, error) {
	f, err := SettingFields(tx, setDevList+account)
	if err != nil {
		return nil, time.Time{}, err
	}
	at := time.Time{}
	if n, ok := f.Nums[2]; ok {
		at = time.Unix(0, int64(n))
	}
	if len(f.Bytes[1]) == 0 {
		return nil, at, nil
	}
	l, err := devlist.Decode(f.Bytes[1][0])
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: a stored device list does not decode", store.ErrCorrupt)
	}
	return l, at, nil
}

// AcceptedListBytes returns the stored signed encoding of account's list.
func AcceptedListBytes(tx *store.Tx, account string) ([]byte, error) {
	f, err := SettingFields(tx, setDevList+account)
	if err != nil || len(f.Bytes[1]) == 0 {
		return nil, err
	}
	return f.Bytes[1][0], nil
}

// PutAcceptedList stores raw (already verified and accepted; nil: the
// account has none) as account's list, fetched at now.
func PutAcceptedList(tx *store.Tx, account string, raw []byte, now time.Time) error {
	var b []byte
	if raw != nil {
		b = PutBytes(b, 1, raw)
	}
	return tx.SetSetting(setDevList+account, PutNum(b, 2, uint64(now.UnixNano())))
}

// accountKey is the identity key account's lists must be signed with: our
// own, or the one pinned for any of a peer's devices (false if none).
func (c *Core) accountKey(tx *store.Tx, account string) (curve.PublicKey, bool, error) {
	if account == c.acct.ID {
		return c.Local.KeyPair.Public, true, nil
	}
	devs, err := tx.SessionDevices(account)
	if err != nil {
		return curve.PublicKey{}, false, err
	}
	for _, d := range append([]uint32{AnnouncedDevice}, devs...) {
		k, ok, err := protostore.Pinned(tx, protocol.Address{Name: account, DeviceID: d})
		if err != nil || ok {
			return k, ok, err
		}
	}
	return curve.PublicKey{}, false, nil
}

// ListRefusedError says why a device list the server served was refused.
type ListRefusedError struct {
	Account string
	Reason  string
}

func (e *ListRefusedError) Error() string {
	return "the server served a device list for " + e.Account + " that was refused (" + e.Reason + "); the last one they signed is kept"
}

// RefreshDeviceList asks the server for account's signed list, checks it
// and keeps it if it is newer. A refused list is reported with a
// DeviceListRefusedEvent and returned as a *ListRefusedError; the accepted
// list stays.
func (c *Core) RefreshDeviceList(ctx context.Context, cn *conn.Conn, account string) error {
	r, err := cn.Call(ctx, &wire.Request{Op: &wire.Request_GetDeviceList{GetDeviceList: &wire.GetDeviceList{Account: account}}})
	if err != nil {
		return serverError(err)
	}
	raw := r.GetDeviceList().GetList()
	var known bool
	if err := c.View(func(tx *store.Tx) (err error) { _, known, err = c.accountKey(tx, account); return }); err != nil {
		return err
	}
	if !known {
		// Nothing pinned yet: the key the list is checked with must be the
		// one the key directory shows.
		if err := c.checkKey(ctx, cn, account, r.GetDeviceList().GetIdentityKey()); err != nil {
			return err
		}
	}
	if err := c.checkListInDirectory(ctx, cn, account, raw); err != nil {
		return err
	}
	var events []Event
	var refused error
	err = c.Update(func(tx *store.Tx) error {
		events, refused = events[:0], nil
		var err error
		events, refused, err = c.acceptList(tx, account, raw, r.GetDeviceList().GetIdentityKey())
		return err
	})
	c.Emit(events...)
	if err != nil {
		return err
	}
	return refused
}

// acceptList checks raw (from the server) against what tx holds for
// account and stores it if it is acceptable.
func (c *Core) acceptList(tx *store.Tx, account string, raw, serverKey []byte) ([]Event, error, error) {
	now := c.Now()
	prev, _, err := AcceptedList(tx, account)
	if err != nil {
		return nil, nil, err
	}
	refuse := func(reason string) ([]Event, error, error) {
		return []Event{&DeviceListRefusedEvent{Peer: account, Reason: reason}}, &ListRefusedError{Account: account, Reason: reason}, nil
	}
	if len(raw) == 0 {
		if prev != nil {
			return refuse("the server served no list, but one they signed was accepted before")
		}
		// never published: device 1 only
		return nil, nil, PutAcceptedList(tx, account, nil, now)
	}
	key, ok, err := c.accountKey(tx, account)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		if key, err = curve.ParsePublicKey(serverKey); err != nil {
			return refuse("the identity key the server gave does not parse")
		}
	}
	next, err := devlist.Verify(raw, account, key)
	if err != nil {
		return refuse(err.Error())
	}
	if err := devlist.Accept(prev, next); err != nil {
		return refuse(err.Error())
	}
	if err := PutAcceptedList(tx, account, raw, now); err != nil {
		return nil, nil, err
	}
	ev, err := c.listChanged(tx, account, prev, next)
	return ev, nil, err
}

// listChanged forgets the sessions of devices that left (or whose keys
// changed) and says what changed.
func (c *Core) listChanged(tx *store.Tx, account string, prev, next *devlist.List) ([]Event, error) {
	old := map[uint32]devlist.Device{AnnouncedDevice: {ID: AnnouncedDevice}}
	if prev != nil {
		old = map[uint32]devlist.Device{}
		for _, d := range prev.Devices {
			old[d.ID] = d
		}
	}
	ev := &DeviceListEvent{Peer: account, Version: next.Version, Devices: next.IDs()}
	for _, d := range next.Devices {
		o, had := old[d.ID]
		switch {
		case !had:
			ev.Added = append(ev.Added, d.ID)
		case prev != nil && o != d:
			ev.Added = append(ev.Added, d.ID) // the same number, a new device
			if err := forgetDevice(tx, account, d.ID); err != nil {
				return nil, err
			}
		}
		delete(old, d.ID)
	}
	for id := range old {
		ev.Removed = append(ev.Removed, id)
		if err := forgetDevice(tx, account, id); err != nil {
			return nil, err
		}
	}
	slices.Sort(ev.Removed)
	if len(ev.Added) == 0 && len(ev.Removed) == 0 {
		return nil, nil
	}
	if prev == nil && len(ev.Removed) == 0 && slices.Equal(ev.Devices, []uint32{AnnouncedDevice}) {
		return nil, nil
	}
	if account == c.acct.ID {
		return []Event{ev}, nil
	}
	if len(ev.Added) > 0 && c.devsAdded != nil {
		if err := c.devsAdded(tx, account); err != nil {
			return nil, err
		}
	}
	m, err := c.deviceNotice(tx, ev)
	if err != nil {
		return nil, err
	}
	return []Event{ev, &MessageEvent{Message: m}}, nil
}

// deviceNotice stores, in the conversation with ev.Peer, a notice that
// their devices changed, so the user sees it wherever the chat is shown.
func (c *Core) deviceNotice(tx *store.Tx, ev *DeviceListEvent) (Message, error) {
	now := c.Now()
	var what string
	switch {
	case len(ev.Added) > 0 && len(ev.Removed) > 0:
		what = fmt.Sprintf("added device %v and removed device %v", ev.Added, ev.Removed)
	case len(ev.Added) > 0:
		what = fmt.Sprintf("added a device (%v)", ev.Added)
	default:
		what = fmt.Sprintf("removed device %v", ev.Removed)
	}
	text := fmt.Sprintf("%s: now %d device(s), on a list signed by their key", what, len(ev.Devices))
	ct := &content.Content{Version: content.Version, Sender: ev.Peer, SenderDevice: AnnouncedDevice, Recipient: c.acct.ID,
		ID: NewContentID(), SentAt: now.Truncate(time.Millisecond), Kind: content.KindDeviceNotice, Text: text}
	body, err := content.Encode(ct)
	if err != nil {
		return Message{}, err
	}
	m := store.Message{Conversation: ev.Peer, Sender: ev.Peer, MessageID: ct.ID.String(), State: store.Received,
		Body: body, SentAt: ct.SentAt, ReceivedAt: now}
	if err := tx.AddMessage(&m); err != nil {
		return Message{}, err
	}
	return FromStore(m, false)
}

// forgetDevice deletes the session with one device of account.
func forgetDevice(tx *store.Tx, account string, dev uint32) error {
	err := tx.DeleteSession(store.Address{Name: account, Device: dev})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// listStale reports whether peer's accepted list is older than the
// options allow.
func (c *Core) listStale(tx *store.Tx, peer string) (bool, error) {
	_, at, err := AcceptedList(tx, peer)
	return at.IsZero() || c.Now().Sub(at) > c.Opts.DeviceListAge, err
}

// freshList refreshes peer's device list when the accepted one is older
// than Options.DeviceListAge. A refused list was reported already; the
// accepted one is used.
func (c *Core) freshList(ctx context.Context, cn *conn.Conn, peer string) error {
	var stale bool
	if err := c.View(func(tx *store.Tx) (err error) { stale, err = c.listStale(tx, peer); return }); err != nil || !stale {
		return err
	}
	err := c.RefreshDeviceList(ctx, cn, peer)
	var refused *ListRefusedError
	if errors.As(err, &refused) {
		return nil
	}
	return err
}

// sealTargets returns the devices of peer to encrypt to that have a
// session, and those on peer's signed list without one yet; never this
// device itself.
func (c *Core) sealTargets(tx *store.Tx, peer string) (devs, missing []uint32, err error) {
	have, err := tx.SessionDevices(peer)
	if err != nil {
		return nil, nil, err
	}
	want, err := AnnouncedDevices(tx, peer)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range want {
		switch {
		case peer == c.acct.ID && d == c.acct.DeviceID:
		case slices.Contains(have, d):
			devs = append(devs, d)
		default:
			missing = append(missing, d)
		}
	}
	return devs, missing, nil
}

// skipDevice marks a bundle fetchSessions leaves alone without a report: a
// device that has a session already or is this device.
const skipDevice = "\x00skip"

// screenBundles says which bundles must not start a session: a device not
// on peer's signed list (""), one whose registration ID is not the signed
// device's (the reason), one not asked for (skipDevice). A bundle under
// another identity key goes on to the key-change checks, which hold it for
// the user.
func (c *Core) screenBundles(tx *store.Tx, peer string, bundles []*wire.Bundle, want []uint32) (map[uint32]string, error) {
	l, _, err := AcceptedList(tx, peer)
	if err != nil {
		return nil, err
	}
	key, known, err := c.accountKey(tx, peer)
	if err != nil {
		return nil, err
	}
	out := map[uint32]string{}
	for _, wb := range bundles {
		d := wb.GetDevice()
		ok, err := Announced(tx, peer, d)
		switch {
		case err != nil:
			return nil, err
		case peer == c.acct.ID && d == c.acct.DeviceID:
			out[d] = skipDevice
		case !ok:
			out[d] = ""
		case want != nil && !slices.Contains(want, d):
			out[d] = skipDevice
		case known && !slices.Equal(wb.GetIdentityKey(), key.Bytes()):
			// Another identity key: the key-change path decides (held
			// for the user, never encrypted to before they accept).
		case l != nil:
			if sd, _ := l.Has(d); sd.RegistrationID != wb.GetRegistrationId() {
				out[d] = fmt.Sprintf("the server handed out keys for device %d that are not the signed device's (registration ID %d, signed %d)", d, wb.GetRegistrationId(), sd.RegistrationID)
			}
		}
	}
	return out, nil
}

// ownDevice is this device's entry on the account's list.
func (c *Core) ownDevice() devlist.Device {
	d := devlist.Device{ID: c.acct.DeviceID, RegistrationID: c.Local.RegistrationID}
	copy(d.AuthKey[:], c.auth.Public().(ed25519.PublicKey))
	return d
}

// PublishList signs l with the account's identity key, stores it at the
// server and accepts it here.
func (c *Core) PublishList(ctx context.Context, cn *conn.Conn, l *devlist.List) ([]byte, error) {
	raw, err := devlist.Sign(l, c.Local.KeyPair.Private)
	if err != nil {
		return nil, err
	}
	if _, err := cn.Call(ctx, &wire.Request{Op: &wire.Request_PutDeviceList{PutDeviceList: &wire.PutDeviceList{List: raw}}}); err != nil {
		return nil, serverError(err)
	}
	var events []Event
	err = c.Update(func(tx *store.Tx) error {
		prev, _, err := AcceptedList(tx, c.acct.ID)
		if err != nil {
			return err
		}
		if err := PutAcceptedList(tx, c.acct.ID, raw, c.Now()); err != nil {
			return err
		}
		events, err = c.listChanged(tx, c.acct.ID, prev, l)
		return err
	})
	c.Emit(events...)
	return raw, err
}

// maintainOwnList runs on every connection: it checks the account's own
// list at the server, publishes version 1 if the account never had one
// (device 1 of an account made before linked devices), and erases this
// device if a validly signed, newer list no longer has it (ErrRemoved): the
// user removed it from another device. A list that fails the checks — the
// server forging or replaying one — is refused and reported, and never
// wipes anything.
func (c *Core) maintainOwnList(ctx context.Context, cn *conn.Conn) error {
	err := c.RefreshDeviceList(ctx, cn, c.acct.ID)
	var refused *ListRefusedError
	if err != nil && !errors.As(err, &refused) {
		return err
	}
	var l *devlist.List
	if err := c.View(func(tx *store.Tx) (err error) { l, _, err = AcceptedList(tx, c.acct.ID); return }); err != nil {
		return err
	}
	switch {
	case l == nil && c.acct.DeviceID == AnnouncedDevice:
		_, err := c.PublishList(ctx, cn, &devlist.List{Account: c.acct.ID, Version: 1, Devices: []devlist.Device{c.ownDevice()}})
		return err
	case l == nil:
		return nil
	}
	if _, on := l.Has(c.acct.DeviceID); !on {
		c.wipeRemoved()
		return ErrRemoved
	}
	return nil
}

// wipeRemoved erases this device, which the account removed, and says so
// to whoever waits for the connection.
func (c *Core) wipeRemoved() {
	c.mu.Lock()
	c.connErr = ErrRemoved
	c.mu.Unlock()
	c.Wipe()
	c.Notify()
}

// removedByAccount is asked when the server refuses this device: it reads
// the account's list on a fresh connection (a removed device can no longer
// authenticate) and erases this device if a validly signed newer list no
// longer has it.
func (c *Core) removedByAccount(ctx context.Context) bool {
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cn, err := conn.Dial(dctx, c.acct.Server)
	if err != nil {
		return false
	}
	defer cn.Close()
	err = c.RefreshDeviceList(dctx, cn, c.acct.ID)
	if err != nil {
		return false
	}
	var l *devlist.List
	if err := c.View(func(tx *store.Tx) (err error) { l, _, err = AcceptedList(tx, c.acct.ID); return }); err != nil || l == nil {
		return false
	}
	if _, on := l.Has(c.acct.DeviceID); on {
		return false
	}
	c.wipeRemoved()
	return true
}

// ownListVersion is the version of account's accepted list (0: none),
// which every message tells its recipient.
func ownListVersion(tx *store.Tx, account string) (uint64, error) {
	l, _, err := AcceptedList(tx, account)
	if err != nil || l == nil {
		return 0, err
	}
	return l.Version, nil
}

// claimList notes that peer's message says they use version v of their
// device list, if that is newer than the one accepted here.
func (b *Batch) claimList(tx *store.Tx, peer string, v uint64) error {
	if v == 0 {
		return nil
	}
	have, err := ownListVersion(tx, peer)
	if err != nil || v <= have {
		return err
	}
	if b.claims == nil {
		b.claims = map[string]uint64{}
	}
	b.claims[peer] = max(b.claims[peer], v)
	return nil
}

// followClaims fetches the lists of senders who use a newer version than
// the accepted one; a server that still serves an older one withholds
// it, and that is reported.
func (c *Core) followClaims(ctx context.Context, cn *conn.Conn, b *Batch) {
	for peer, v := range b.claims {
		if err := c.RefreshDeviceList(ctx, cn, peer); err != nil {
			var refused *ListRefusedError
			var retry *errRetry
			switch {
			case errors.As(err, &retry):
				// Not in the key directory yet: asked again until it is.
				c.refollowList(ctx, cn, peer, retry.wait)
				continue
			case !errors.As(err, &refused):
				c.Opts.Logger.Warn("fetching a device list failed", "err", err)
				continue
			}
		}
		var have uint64
		if err := c.View(func(tx *store.Tx) (err error) { have, err = ownListVersion(tx, peer); return }); err != nil {
			continue
		}
		if have < v {
			reason := fmt.Sprintf("the server withholds their newest device list: their messages say version %d, the server serves %d", v, have)
			c.Emit(&DeviceListRefusedEvent{Peer: peer, Reason: reason})
		}
	}
}

// refollowTries bounds how often refollowList asks for a list the key
// directory does not hold yet: at the directory's 3 s retry, about two
// minutes, twice its default publishing interval.
const refollowTries = 40

// refollowList fetches peer's device list again, every wait, while the
// key directory does not hold it yet (at most one such loop per peer, and
// only while the connection lasts), so that a contact's new device is
// taken once it is published even if nothing is sent to the contact
// meanwhile.
func (c *Core) refollowList(ctx context.Context, cn *conn.Conn, peer string, wait time.Duration) {
	c.mu.Lock()
	if c.refollowing == nil {
		c.refollowing = map[string]bool{}
	}
	if c.refollowing[peer] {
		c.mu.Unlock()
		return
	}
	c.refollowing[peer] = true
	c.mu.Unlock()
	go func() {
		defer func() {
			c.mu.Lock()
			delete(c.refollowing, peer)
			c.mu.Unlock()
		}()
		for range refollowTries {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			var retry *errRetry
			if err := c.RefreshDeviceList(ctx, cn, peer); !errors.As(err, &retry) {
				return
			}
		}
	}()
}
