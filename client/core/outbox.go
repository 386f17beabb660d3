package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/protostore"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/kem"
	"github.com/skymsg/sky/protocol/prekey"
	"github.com/skymsg/sky/wire"
)

// The outbox is sent in order. Items to a recipient that cannot be reached
// now (key change waiting for the user) wait without holding up items to
// others; a refusal for the whole account (expired, revoked) stops sending
// until the next connection.

// retryAfter is how long the outbox waits after a transient failure.
const retryAfter = 2 * time.Second

// ErrKeysPending says a device of the own account is on its signed list but
// has not uploaded its keys yet (it was just linked): what goes to the
// account's devices waits in the outbox until it has, instead of going
// without that device, and the outbox tries again every retryAfter.
var ErrKeysPending = errors.New("a device of this account has not uploaded its keys yet (it was just linked); the copies for the account's devices wait in the outbox until it has (if it never comes online, remove it: sky devices remove N)")

// keysPendingMark, in a pass's skip set, says an item waits for
// ErrKeysPending (no account ID starts with a NUL byte).
const keysPendingMark = "\x00keys"

// errRetry marks a transient failure: try the pass again later.
type errRetry struct {
	err  error
	wait time.Duration
}

func (e *errRetry) Error() string { return e.err.Error() }
func (e *errRetry) Unwrap() error { return e.err }

func (c *Core) sendLoop(ctx context.Context, cn *conn.Conn) {
	for {
		wait := time.Duration(0)
		err := c.sendPass(ctx, cn)
		c.Notify()
		var retry *errRetry
		switch {
		case ctx.Err() != nil:
			return
		case errors.As(err, &retry):
			wait = retry.wait
		case err != nil:
			c.Opts.Logger.Warn("sending failed", "err", err)
			wait = retryAfter
		}
		var timer <-chan time.Time
		if wait > 0 {
			timer = time.After(wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		case <-cn.Done():
			return
		case <-timer:
		}
	}
}

// sendPass sends what the outbox holds, once through.
func (c *Core) sendPass(ctx context.Context, cn *conn.Conn) error {
	c.mu.Lock()
	stopped := c.sendErr
	c.mu.Unlock()
	if stopped != nil {
		return nil
	}
	var items []store.Outgoing
	if err := c.View(func(tx *store.Tx) (err error) { items, err = tx.Outbox(); return }); err != nil {
		return err
	}
	pool := &anonPool{url: c.acct.Server}
	defer pool.close()
	skip := map[string]bool{}
	var due time.Time    // the earliest receipt still waiting
	force := false       // send multi-recipient batches even if incomplete
	mp := newMultiPass() // multi-recipient batches sent (or failed) in this pass
	for len(items) > 0 {
		// A group text next in line for several members goes to them all
		// at once (multisend.go). Members whose text waits for a batch to
		// complete (their own earlier items go first) are held out of the
		// wave; if nothing else can go, the batches go as they are.
		var (
			held map[string]bool
			err  error
		)
		if items, held, err = c.sendMulti(ctx, items, skip, force, mp); err != nil {
			return err
		}
		// A wave: the next items, each to a recipient not yet in it, sent
		// at once; each recipient's items still go in order, one wave
		// after another.
		var wave, rest []store.Outgoing
		in := map[string]bool{}
		for _, it := range items {
			if skip[it.To] {
				continue
			}
			if in[it.To] || held[it.To] || len(wave) >= fanout {
				in[it.To] = true // nothing more to them in this wave
				rest = append(rest, it)
				continue
			}
			if nb := notBefore(it); time.Now().Before(nb) {
				// A receipt waiting for its time; what follows it is not
				// held up (receipts have no place in the sender's order).
				if due.IsZero() || nb.Before(due) {
					due = nb
				}
				continue
			}
			in[it.To] = true
			wave = append(wave, it)
		}
		items = rest
		if len(wave) == 0 {
			if force || len(held) == 0 {
				break
			}
			force = true
			continue
		}
		force = false
		errs := make([]error, len(wave))
		sent := make([]bool, len(wave))
		epochs := make([]uint64, len(wave))
		var wg sync.WaitGroup
		for i, it := range wave {
			epochs[i] = c.unblockEpoch(it.To)
			wg.Add(1)
			go func() {
				defer wg.Done()
				sent[i], errs[i] = c.deliver(ctx, cn, pool, it)
			}()
		}
		wg.Wait()
		// What the server accepted leaves the outbox in one transaction.
		var done []store.Outgoing
		for i, it := range wave {
			if sent[i] {
				done = append(done, it)
			}
		}
		if err := c.recordSent(done); err != nil {
			return err
		}
		for i, it := range wave {
			if stop, err := c.delivered(ctx, it, errs[i], skip, epochs[i]); stop {
				return err
			}
		}
	}
	if skip[keysPendingMark] {
		wait := retryAfter
		if !due.IsZero() {
			wait = min(wait, max(time.Until(due), time.Millisecond))
		}
		return &errRetry{err: ErrKeysPending, wait: wait}
	}
	if !due.IsZero() {
		return &errRetry{err: errReceiptWaiting, wait: max(time.Until(due), time.Millisecond)}
	}
	return nil
}

// fanout is how many items, each to another recipient, the outbox sends at
// once.
const fanout = 16

// delivered handles the outcome of delivering it: stop says the pass ends
// here, with err.
//
// epoch is the recipient's unblock epoch when the item was sent: a block
// that ended meanwhile (Unblock: the user accepted a key, the peer sent a
// current access key) is not set again by this older attempt; the outbox
// just tries again.
func (c *Core) delivered(ctx context.Context, it store.Outgoing, err error, skip map[string]bool, epoch uint64) (stop bool, _ error) {
	c.mu.Lock()
	delete(c.blocked, it.To)
	c.mu.Unlock()
	var retry *errRetry
	switch {
	case err == nil:
	case errors.Is(err, ErrIdentityChanged), errors.Is(err, ErrAccessRefused):
		c.mu.Lock()
		current := c.unblocks[it.To] == epoch
		if current {
			c.blocked[it.To] = err
		}
		c.mu.Unlock()
		if !current {
			c.KickOutbox()
		}
		skip[it.To] = true
	case errors.Is(err, ErrKeysPending):
		// Kept, in order, for the next pass (Flush reports it).
		c.mu.Lock()
		c.blocked[it.To] = err
		c.mu.Unlock()
		skip[it.To], skip[keysPendingMark] = true, true
	case errors.Is(err, ErrNoSuchAccount):
		if err := c.fail(it, err); err != nil {
			return true, err
		}
	case errors.Is(err, ErrExpired), errors.Is(err, ErrRevoked):
		c.mu.Lock()
		c.sendErr = err
		c.mu.Unlock()
		return true, nil
	case errors.As(err, &retry):
		return true, err
	default:
		if ctx.Err() != nil || errors.Is(err, conn.ErrClosed) {
			return true, err
		}
		// Anything else (a bundle that does not verify, a store
		// failure) keeps the recipient's items for the next pass.
		c.Opts.Logger.Warn("an outgoing message could not be sent; will retry", "err", err)
		c.mu.Lock()
		c.blocked[it.To] = err
		c.mu.Unlock()
		skip[it.To] = true
	}
	return false, nil
}

var errReceiptWaiting = errors.New("a receipt waits for its time")

// notBefore returns when the item may be sent (zero: now).
func notBefore(it store.Outgoing) time.Time {
	item, err := DecodeOutItem(it.Payload)
	if err != nil {
		return time.Time{}
	}
	return item.NotBefore
}

// receiptDue returns when a receipt queued now may be sent: at a random
// moment within Options.ReceiptDelay, in wall-clock time (it is about the
// network's timing, not the user's).
func (c *Core) ReceiptDue() time.Time {
	if c.Opts.ReceiptDelay <= 0 {
		return time.Time{}
	}
	return time.Now().Add(randDuration(c.Opts.ReceiptDelay))
}

// groupCopy reports whether item it carries a group's text (stored in the
// group's conversation), not a broadcast list's (stored in the recipient's).
func groupCopy(tx *store.Tx, it store.Outgoing, group []byte) bool {
	m, err := tx.Message(it.MessageRef)
	return err != nil || m.Conversation == content.GroupID(group).String()
}

// fail gives up an item whose recipient does not exist.
func (c *Core) fail(it store.Outgoing, why error) error {
	var ev *FailedEvent
	err := c.Update(func(tx *store.Tx) error {
		if item, err := DecodeOutItem(it.Payload); err == nil && item.Group != nil && groupCopy(tx, it, item.Group) {
			// One member of a group cannot be reached: the message still
			// goes to the others.
			m, err := tx.Message(it.MessageRef)
			if err == nil {
				ev = &FailedEvent{Conversation: m.Conversation, MessageID: m.MessageID, Err: fmt.Errorf("to group member %s: %w", it.To, why)}
			}
			return tx.Dequeue(it.ID)
		}
		if it.MessageRef != 0 {
			m, err := tx.Message(it.MessageRef)
			if err == nil {
				m.State, m.Failure = store.Failed, why.Error()
				if err := tx.UpdateMessage(m); err != nil {
					return err
				}
				ev = &FailedEvent{Conversation: m.Conversation, MessageID: m.MessageID, Err: why}
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return tx.Dequeue(it.ID)
	})
	if err == nil && ev != nil {
		c.Emit(ev)
	}
	return err
}

// deliver encrypts (once) and sends one item; sent says the server
// accepted it, and recordSent then dequeues it. The session ciphertext is
// kept in the item; the sealed envelope around it is made at each attempt,
// with the current sender certificate.
func (c *Core) deliver(ctx context.Context, cn *conn.Conn, pool *anonPool, it store.Outgoing) (sent bool, _ error) {
	item, err := DecodeOutItem(it.Payload)
	if err != nil {
		return false, c.fail(it, err) // a damaged item can never be sent
	}
	cert := c.SenderCertificate()
	if cert == nil {
		return false, &errRetry{err: errNoCertificate, wait: retryAfter}
	}
	if item.Group != nil {
		// A group message waits, like everything to its recipient, while
		// their key change waits for the user.
		if err := c.View(func(tx *store.Tx) error { return c.RefuseChanged(tx, it.To) }); err != nil {
			return false, err
		}
	}
	if len(item.Sealed) == 0 {
		if item, err = c.seal(ctx, cn, it, item); err != nil {
			return false, err
		}
	}
	if item.Group != nil && len(item.Sealed) == 1 {
		// A sender-key message is the same for every device of the
		// member: each one on their signed list gets it.
		var devs []uint32
		if err := c.View(func(tx *store.Tx) (err error) { devs, err = AnnouncedDevices(tx, it.To); return }); err != nil {
			return false, err
		}
		one := item.Sealed[0]
		item.Sealed = item.Sealed[:0:0]
		for _, d := range devs {
			item.Sealed = append(item.Sealed, DeviceCiphertext{Device: d, Bytes: one.Bytes})
		}
	}
	gone := 0 // devices the server no longer has
	for _, d := range item.Sealed {
		env, err := c.SealFor(it.To, d.Device, d.Bytes, cert)
		if errors.Is(err, errNoPinned) && item.Group != nil {
			// No session with the member ever came about (their account
			// is gone): the group message cannot reach them.
			return false, c.fail(it, ErrNoSuchAccount)
		}
		if err != nil {
			return false, err
		}
		err = c.post(ctx, cn, pool, it.To, d.Device, env, item.AsRequest)
		switch {
		case err == nil:
		case errors.Is(err, wire.ErrNotFound) && len(item.Sealed) > 1:
			// One device of several is gone (removed by its account):
			// the others still get the message, and the account's
			// signed list is asked for again.
			gone++
		case errors.Is(err, wire.ErrRateLimited), errors.Is(err, wire.ErrQueueFull), errors.Is(err, wire.ErrUnavailable), errors.Is(err, wire.ErrInternal):
			var we *wire.Error
			errors.As(err, &we)
			return false, &errRetry{err: err, wait: max(we.RetryAfter(), retryAfter)}
		default:
			return false, serverError(err)
		}
	}
	if gone > 0 {
		if gone == len(item.Sealed) {
			return false, serverError(wire.ErrNotFound)
		}
		if err := c.RefreshDeviceList(ctx, cn, it.To); err != nil {
			c.Opts.Logger.Warn("fetching a device list failed", "err", err)
		}
	}
	return true, nil
}

// recordSent dequeues items the server accepted and marks their messages
// Sent, in one transaction.
func (c *Core) recordSent(items []store.Outgoing) error {
	if len(items) == 0 {
		return nil
	}
	var events []Event
	err := c.Update(func(tx *store.Tx) error {
		events = events[:0]
		for _, it := range items {
			if it.MessageRef != 0 {
				m, err := tx.Message(it.MessageRef)
				switch {
				case errors.Is(err, store.ErrNotFound):
				case err != nil:
					return err
				case m.State == store.Pending:
					m.State = store.Sent
					if err := tx.UpdateMessage(m); err != nil {
						return err
					}
					events = append(events, &SentEvent{Conversation: m.Conversation, MessageID: m.MessageID})
				}
			}
			if err := tx.Dequeue(it.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		c.KickExpiry() // the sent messages' countdowns started
		c.Emit(events...)
	}
	return err
}

// seal encrypts the item for each of the recipient's devices, starting
// sessions from fresh bundles where needed, and stores the ciphertexts in
// the item before anything is sent.
func (c *Core) seal(ctx context.Context, cn *conn.Conn, it store.Outgoing, item OutItem) (OutItem, error) {
	// The sealed envelope is padded to a sealed size (sealFor); padding
	// the content to a bucket as well would only compound.
	padded, err := content.PadForSealing(item.Content)
	if err != nil {
		return item, c.fail(it, err)
	}
	if err := c.freshList(ctx, cn, it.To); err != nil {
		return item, err
	}
	for attempt := 0; ; attempt++ {
		var devs, missing []uint32
		if err := c.View(func(tx *store.Tx) error {
			if err := c.RefuseChanged(tx, it.To); err != nil {
				return err
			}
			devs, missing, err = c.sealTargets(tx, it.To)
			return err
		}); err != nil {
			return item, err
		}
		stale := len(devs) == 0 && len(missing) > 0
		if attempt == 0 && len(missing) > 0 && len(devs) > 0 {
			// A device newly on the peer's signed list: a session with it
			// first; if that fails, the others still get the message.
			err := c.fetchSessions(ctx, cn, it.To, missing)
			if errors.Is(err, ErrKeysPending) {
				return item, err // an own device just linked: it gets this too
			}
			if err != nil {
				c.Opts.Logger.Warn("starting a session with a new device failed; sending to the others", "err", err)
			}
			continue
		}
		if len(devs) == 0 && len(missing) == 0 {
			return item, c.fail(it, errors.New("no other device of this account to send to"))
		}
		if !stale {
			err := c.Update(func(tx *store.Tx) error {
				now := c.Now()
				ps := protostore.New(tx, c.Local, now)
				local := protocol.Address{Name: c.acct.ID, DeviceID: c.acct.DeviceID}
				item.Sealed = item.Sealed[:0]
				for _, d := range devs {
					addr := protocol.Address{Name: it.To, DeviceID: d}
					ct, err := protocol.Encrypt(ctx, ps.Protocol(), local, addr, padded, now)
					if errors.Is(err, protocol.ErrNoSession) || errors.Is(err, protocol.ErrUntrustedIdentity) {
						// No usable current session (unanswered for 30
						// days, or archived): start from a fresh bundle,
						// which keeps the old states for late messages.
						ps.Discard()
						stale = true
						return nil
					}
					if err != nil {
						return err
					}
					item.Sealed = append(item.Sealed, DeviceCiphertext{Device: d, Bytes: append([]byte{byte(ct.Type)}, ct.Bytes...)})
				}
				if err := ps.Commit(); err != nil {
					return err
				}
				it.Payload = EncodeOutItem(item)
				return tx.UpdateOutgoing(it)
			})
			if err != nil {
				return item, err
			}
		}
		if !stale {
			return item, nil
		}
		if attempt > 0 {
			return item, fmt.Errorf("no usable session with %s after fetching their keys; retrying later", it.To)
		}
		if len(devs) > 0 {
			missing = nil // a broken session: fresh bundles for every device
		}
		if err := c.fetchSessions(ctx, cn, it.To, missing); err != nil {
			return item, err
		}
	}
}

// fetchSessions starts sessions with every device of peer from bundles the
// server hands out. A bundle whose identity key is not the pinned one is
// never used: the change is recorded and an *IdentityChangedError returned.
func (c *Core) fetchSessions(ctx context.Context, cn *conn.Conn, peer string, devs []uint32) error {
	var one uint32
	if len(devs) == 1 {
		one = devs[0]
	}
	r, err := cn.Call(ctx, &wire.Request{Op: &wire.Request_FetchBundles{FetchBundles: &wire.FetchBundles{Account: peer, Device: one}}})
	if peer == c.acct.ID && errors.Is(err, wire.ErrNoPreKeys) {
		return fmt.Errorf("%w (device %v)", ErrKeysPending, devs)
	}
	if errors.Is(err, wire.ErrRateLimited) {
		var we *wire.Error
		errors.As(err, &we)
		return &errRetry{err: err, wait: max(we.RetryAfter(), retryAfter)}
	}
	if err != nil {
		return serverError(err)
	}
	bundles := r.GetBundles().GetBundles()
	if len(bundles) == 0 {
		return ErrNoSuchAccount
	}
	var refuse map[uint32]string
	if err := c.View(func(tx *store.Tx) (err error) { refuse, err = c.screenBundles(tx, peer, bundles, devs); return }); err != nil {
		return err
	}
	for _, wb := range bundles {
		if why, no := refuse[wb.GetDevice()]; !no || (why != "" && why != skipDevice) {
			if err := c.checkKey(ctx, cn, peer, wb.GetIdentityKey()); err != nil {
				return err
			}
			break
		}
	}
	var changed, bad error
	var events []Event
	err = c.Update(func(tx *store.Tx) error {
		now := c.Now()
		ps := protostore.New(tx, c.Local, now)
		local := protocol.Address{Name: c.acct.ID, DeviceID: c.acct.DeviceID}
		for _, wb := range bundles {
			if why, no := refuse[wb.GetDevice()]; no {
				// A device the server lists but peer never signed for, or
				// keys that are not the signed device's: no session with
				// it, nothing encrypted to it.
				if why == "" {
					events = append(events, &UnannouncedDeviceEvent{Peer: peer, Device: wb.GetDevice()})
				} else if why != skipDevice {
					events = append(events, &DeviceListRefusedEvent{Peer: peer, Reason: why})
				}
				continue
			}
			b, err := ToBundle(wb)
			if err != nil {
				bad = err
				continue
			}
			addr := protocol.Address{Name: peer, DeviceID: b.DeviceID}
			err = protocol.ProcessPreKeyBundle(ctx, ps.Protocol(), local, addr, b, now)
			switch {
			case err == nil:
			case errors.Is(err, protocol.ErrUntrustedIdentity):
				ps.Discard()
				ev, err := c.RecordChanged(tx, peer, b.DeviceID, b.IdentityKey.Bytes(), now)
				if err != nil {
					return err
				}
				if ev != nil {
					events = append(events, ev)
				}
				changed = c.RefuseChanged(tx, peer)
				return nil
			case IsProtocolError(err):
				bad = err
			default:
				return err
			}
		}
		return ps.Commit()
	})
	c.Emit(events...)
	switch {
	case err != nil:
		return err
	case changed != nil:
		return changed
	}
	var have []uint32
	if err := c.View(func(tx *store.Tx) (err error) { have, err = tx.SessionDevices(peer); return }); err != nil {
		return err
	}
	if len(have) == 0 && bad != nil {
		return fmt.Errorf("the server handed out unusable keys for %s (%v); retrying later", peer, bad)
	}
	if peer == c.acct.ID {
		// The server leaves out devices without keys when asked for all.
		for _, d := range devs {
			if !slices.ContainsFunc(bundles, func(wb *wire.Bundle) bool { return wb.GetDevice() == d }) {
				return fmt.Errorf("%w (device %d)", ErrKeysPending, d)
			}
		}
	}
	return nil
}

// toBundle checks and converts a bundle from the server.
func ToBundle(wb *wire.Bundle) (*prekey.Bundle, error) {
	bad := func(what string) error {
		return fmt.Errorf("%w: the bundle's %s is malformed", protocol.ErrInvalidKey, what)
	}
	if wb.GetDevice() == 0 || wb.GetDevice() > 127 {
		return nil, bad("device")
	}
	ik, err := curve.ParsePublicKey(wb.GetIdentityKey())
	if err != nil {
		return nil, bad("identity key")
	}
	spk, err := curve.ParsePublicKey(wb.GetSignedEc().GetKey())
	if err != nil {
		return nil, bad("signed prekey")
	}
	ky, err := kem.ParsePublicKey(wb.GetKyber().GetKey())
	if err != nil {
		return nil, bad("Kyber prekey")
	}
	b := &prekey.Bundle{RegistrationID: wb.GetRegistrationId(), DeviceID: wb.GetDevice(), IdentityKey: ik,
		SignedPreKeyID: wb.GetSignedEc().GetId(), SignedPreKey: spk, SignedPreKeySignature: wb.GetSignedEc().GetSignature(),
		KyberPreKeyID: wb.GetKyber().GetId(), KyberPreKey: ky, KyberPreKeySignature: wb.GetKyber().GetSignature()}
	if otk := wb.GetOneTimeEc(); otk != nil {
		k, err := curve.ParsePublicKey(otk.GetKey())
		if err != nil {
			return nil, bad("one-time prekey")
		}
		b.PreKeyID, b.PreKey = otk.GetId(), &k
	}
	return b, nil
}
