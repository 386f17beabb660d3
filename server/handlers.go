package server

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/server/ws"
	"github.com/skymsg/sky/wire"
)

// dummyAuthKey is verified against when a device does not exist, so a
// failed authentication costs the same either way and timing does not tell
// whether an account exists.
var dummyAuthKey = func() ed25519.PublicKey {
	pub, _, _ := ed25519.GenerateKey(nil)
	return pub
}()

func (c *conn) handle(req *wire.Request) {
	id := req.GetId()
	if c.anon != nil {
		switch req.GetOp().(type) {
		case *wire.Request_Send, *wire.Request_BlobGet, *wire.Request_MultiSend, *wire.Request_AccessRequest,
			*wire.Request_LinkPut, *wire.Request_LinkGet, *wire.Request_GetDeviceList:
		default:
			c.refuseAnonymous(id)
			return
		}
	}
	switch op := req.GetOp().(type) {
	case *wire.Request_Register:
		c.register(id, op.Register)
	case *wire.Request_Authenticate:
		c.authenticate(id, op.Authenticate)
	case *wire.Request_Send:
		c.send(id, op.Send)
	case *wire.Request_MultiSend:
		c.multiSend(id, op.MultiSend)
	case *wire.Request_AccessRequest:
		c.accessRequest(id, op.AccessRequest)
	case *wire.Request_Ack:
		c.ack(id, op.Ack)
	case *wire.Request_UploadPrekeys:
		c.uploadPreKeys(id, op.UploadPrekeys)
	case *wire.Request_GetPrekeyCounts:
		c.prekeyCounts(id)
	case *wire.Request_FetchBundles:
		c.fetchBundles(id, op.FetchBundles)
	case *wire.Request_GetAccount:
		c.getAccount(id)
	case *wire.Request_DeleteAccount:
		c.deleteAccount(id)
	case *wire.Request_GetSenderCertificate:
		c.getSenderCertificate(id)
	case *wire.Request_SetDeliveryVerifier:
		c.setDeliveryVerifier(id, op.SetDeliveryVerifier)
	default:
		if !c.handleBlob(req) && !c.handleKeyDir(req) && !c.handleDevices(req) {
			c.replyErr(id, wire.NewError(wire.Code_BAD_REQUEST, "request has no known operation; check the client's protocol version"))
		}
	}
}

func badRequest(format string, args ...any) *wire.Error {
	return wire.NewError(wire.Code_BAD_REQUEST, fmt.Sprintf(format, args...))
}

func rateLimited(what string, wait time.Duration) *wire.Error {
	ms := max(wait.Milliseconds(), 1)
	e := wire.NewError(wire.Code_RATE_LIMITED, what+"; retry in "+strconv.FormatInt(ms, 10)+" ms")
	e.RetryAfterMs = uint32(min(ms, 1<<31))
	return e
}

var errNotAuthenticated = wire.NewError(wire.Code_UNAUTHENTICATED, "authenticate (or register) on this connection first")

// storeError turns a store error into what the client is told.
func (c *conn) storeError(err error) *wire.Error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return wire.NewError(wire.Code_NOT_FOUND, "no such account or device; check the ID")
	case errors.Is(err, store.ErrQueueFull):
		e := wire.NewError(wire.Code_QUEUE_FULL, "the recipient's queue is full until it reconnects or messages expire; retry later")
		e.RetryAfterMs = 60000
		return e
	case errors.Is(err, store.ErrNoPreKeys):
		return wire.NewError(wire.Code_NO_PREKEYS, "that device has not uploaded prekeys yet; it must connect once before anyone can start a session with it")
	case errors.Is(err, store.ErrTooManyPreKeys):
		return wire.NewError(wire.Code_TOO_MANY_PREKEYS, fmt.Sprintf("this device already stores the maximum of %d one-time prekeys of a kind; upload more when the count drops", store.MaxStoredOneTime))
	case errors.Is(err, store.ErrCodeUnknown):
		return wire.NewError(wire.Code_CODE_INVALID, "activation code unknown or already used; check it, or ask the operator for a new one")
	case errors.Is(err, store.ErrCodeExpired):
		return wire.NewError(wire.Code_CODE_EXPIRED, "activation code expired; ask the operator for a new one")
	case errors.Is(err, store.ErrTooManyDevices):
		return wire.NewError(wire.Code_TOO_MANY_DEVICES, fmt.Sprintf("this account has the most linked devices this server allows (%d); remove one with 'sky devices remove N' first", c.s.cfg.MaxDevices))
	case errors.Is(err, store.ErrLinkTaken):
		return wire.NewError(wire.Code_LINK_TAKEN, "that link slot is written already: the link code was used; start a new link")
	}
	c.s.log.Error("storage error", "err", err)
	e := wire.NewError(wire.Code_UNAVAILABLE, "the server could not reach its storage; retry shortly")
	e.RetryAfterMs = 1000
	return e
}

// becomeAuthed binds the connection to its device, queues answer to
// request id, and only then starts delivery: the answer to Authenticate or
// Register comes before any push (docs/protocol.md).
func (c *conn) becomeAuthed(a store.Address, acct store.Account, id uint64, answer *wire.Response) {
	acct.IdentityKey = nil // not needed here; an idle connection keeps little
	c.acct, c.acctChecked = acct, c.s.now()
	c.challenge = nil
	c.open = true
	c.ip = netip.Addr{}
	c.s.adm.release(c)
	c.mu.Lock()
	if c.authTimer != nil {
		c.authTimer.Stop()
		c.authTimer = nil
	}
	c.authed, c.addr, c.needDrain = true, a, true
	c.mu.Unlock()
	// The other nodes hear of this connection before the device does: a
	// device that connects again once answered is then always announced
	// later, so the stream's order is the order of its connections and
	// the newest wins everywhere (announcing after the answer let a quick
	// reconnection to another node be announced first, and the older
	// connection survive).
	c.s.connected(a)
	c.reply(id, answer)
	if old := c.s.hub.bind(a, c); old != nil && old != c {
		go old.fail(wire.Code_REPLACED, "this device connected again; this older connection is closed", StatusReplaced)
	}
	c.poke()
	if hook := testHookAuthed.Load(); hook != nil {
		(*hook)()
	}
}

// testHookAuthed, when set by a test, runs once delivery has started on a
// newly authenticated connection.
var testHookAuthed atomic.Pointer[func()]

func accountInfo(a store.Account, now time.Time) *wire.AccountInfo {
	return &wire.AccountInfo{
		Account:         a.ID,
		Created:         a.Created.Unix(),
		SubscriptionEnd: a.SubscriptionEnd.Unix(),
		Revoked:         a.Revoked,
		CanSend:         !a.Revoked && now.Before(a.SubscriptionEnd),
	}
}

func (c *conn) register(id uint64, r *wire.Register) {
	if c.isAuthed() {
		c.replyErr(id, wire.NewError(wire.Code_ALREADY_AUTHENTICATED, "this connection is already authenticated; open a new one to register"))
		return
	}
	c.registerAttempts++
	if c.registerAttempts > maxRegisterAttempts {
		c.fail(wire.Code_RATE_LIMITED, "too many registration attempts on one connection", ws.StatusPolicyViolation)
		return
	}
	switch {
	case len(r.GetActivationCode()) == 0 || len(r.GetActivationCode()) > 64:
		c.replyErr(id, badRequest("activation_code must be 1 to 64 characters"))
		return
	case len(r.GetAuthKey()) != ed25519.PublicKeySize:
		c.replyErr(id, badRequest("auth_key must be a %d-byte Ed25519 public key", ed25519.PublicKeySize))
		return
	case len(r.GetIdentityKey()) == 0 || len(r.GetIdentityKey()) > wire.MaxIdentityKeyBytes:
		c.replyErr(id, badRequest("identity_key must be 1 to %d bytes", wire.MaxIdentityKeyBytes))
		return
	case len(r.GetSignature()) != ed25519.SignatureSize:
		c.replyErr(id, badRequest("signature must be %d bytes", ed25519.SignatureSize))
		return
	}
	msg := wire.RegisterSignedData(c.challenge, r.GetAuthKey(), r.GetIdentityKey(), r.GetRegistrationId())
	if !ed25519.Verify(r.GetAuthKey(), msg, r.GetSignature()) {
		c.replyErr(id, wire.NewError(wire.Code_AUTH_FAILED, "the registration signature does not verify with auth_key over this connection's challenge"))
		return
	}
	// Only a well-formed, signed request spends the budgets; a code that
	// turns out unknown or expired is charged to the source address too.
	now := c.s.now()
	src := c.ip.String()
	if wait, ok := c.s.codeFailLimit.peek(src, now); !ok {
		c.s.m.rateLimited.Inc()
		c.replyErr(id, rateLimited("too many unknown or expired activation codes from your address", wait))
		return
	}
	if wait, ok := c.s.registerLimit.take("", now); !ok {
		c.s.m.rateLimited.Inc()
		c.replyErr(id, rateLimited("too many registrations on this server right now", wait))
		return
	}
	reg := store.Registration{
		CodeHash:       HashCode(r.GetActivationCode()),
		IdentityKey:    r.GetIdentityKey(),
		AuthKey:        r.GetAuthKey(),
		RegistrationID: r.GetRegistrationId(),
	}
	var (
		acct store.Account
		err  error
	)
	for range 5 {
		reg.ID = NewAccountID()
		if acct, err = c.s.st.Register(c.s.ctx, reg, now); !errors.Is(err, store.ErrAccountExists) {
			break
		}
	}
	if err != nil {
		if errors.Is(err, store.ErrCodeUnknown) || errors.Is(err, store.ErrCodeExpired) {
			c.s.codeFailLimit.charge(src, now)
		}
		c.replyErr(id, c.storeError(err))
		return
	}
	c.s.m.registered.Inc()
	c.s.keyDirQueue(acct.ID, reg.IdentityKey)
	c.becomeAuthed(store.Address{Account: acct.ID, Device: 1}, acct, id, &wire.Response{Result: &wire.Response_Registered{Registered: &wire.Registered{
		Account: acct.ID, Device: 1, SubscriptionEnd: acct.SubscriptionEnd.Unix(),
	}}})
}

func (c *conn) authenticate(id uint64, r *wire.Authenticate) {
	if c.isAuthed() {
		c.replyErr(id, wire.NewError(wire.Code_ALREADY_AUTHENTICATED, "this connection is already authenticated"))
		return
	}
	if !ValidAccountID(r.GetAccount()) || r.GetDevice() == 0 || len(r.GetSignature()) != ed25519.SignatureSize {
		c.replyErr(id, badRequest("authenticate needs a valid account ID, a device number from 1 and a %d-byte signature", ed25519.SignatureSize))
		return
	}
	// Failed attempts are charged to the source address: each costs a
	// store look-up and a signature check, and connections are cheap.
	src, now := c.ip.String(), c.s.now()
	if wait, ok := c.s.authFailLimit.peek(src, now); !ok {
		c.s.m.rateLimited.Inc()
		c.replyErr(id, rateLimited("too many failed authentications from your address", wait))
		return
	}
	a := store.Address{Account: r.GetAccount(), Device: r.GetDevice()}
	key := dummyAuthKey
	d, err := c.s.st.Device(c.s.ctx, a)
	if err == nil {
		key = d.AuthKey
	} else if !errors.Is(err, store.ErrNotFound) {
		c.replyErr(id, c.storeError(err))
		return
	}
	ok := ed25519.Verify(key, wire.AuthSignedData(c.challenge, a.Account, a.Device), r.GetSignature()) && err == nil
	var acct store.Account
	if ok {
		if acct, err = c.s.st.Account(c.s.ctx, a.Account); err != nil {
			ok = false
		}
	}
	if !ok {
		c.s.m.authFailed.Inc()
		c.s.authFailLimit.charge(src, now)
		c.authFailures++
		if c.authFailures >= maxAuthFailures {
			c.fail(wire.Code_AUTH_FAILED, "authentication failed too often on this connection", ws.StatusPolicyViolation)
			return
		}
		c.replyErr(id, wire.NewError(wire.Code_AUTH_FAILED, "authentication failed: unknown device or a signature that does not verify over this connection's challenge"))
		return
	}
	c.s.m.authOK.Inc()
	c.becomeAuthed(a, acct, id, &wire.Response{Result: &wire.Response_Authenticated{Authenticated: &wire.Authenticated{Account: accountInfo(acct, c.s.now())}}})
}

// mayPost says why this account may not send now, if it may not. The
// account is re-read from the store at most every accountRecheck, so an
// operator's revocation takes effect on open connections too.
func (c *conn) mayPost(now time.Time) *wire.Error {
	if now.Sub(c.acctChecked) > accountRecheck {
		if a, err := c.s.st.Account(c.s.ctx, c.acct.ID); err == nil {
			a.IdentityKey = nil
			c.acct, c.acctChecked = a, now
		}
	}
	if c.acct.Revoked {
		return wire.NewError(wire.Code_ACCOUNT_REVOKED, "the operator revoked this account: it can no longer send, but can still receive what is queued")
	}
	if !now.Before(c.acct.SubscriptionEnd) {
		return wire.NewError(wire.Code_SUBSCRIPTION_EXPIRED, "the subscription ended on "+c.acct.SubscriptionEnd.Format("2006-01-02")+
			": ask the operator to extend it; until then this account can receive but not send")
	}
	return nil
}

// send queues a Send. Every send is sealed: with the recipient's delivery
// token on an anonymous connection, or as a sealed request on an
// authenticated one (sealed.go). Sends that named their sender to the
// server ("identified" sends) were removed: no client needs them, and one
// account could fill anyone's queue with them.
func (c *conn) send(id uint64, r *wire.Send) {
	if c.anon != nil || len(r.GetDeliveryToken()) > 0 || r.GetSealed() {
		c.sendSealed(id, r)
		return
	}
	if !c.isAuthed() {
		c.replyErr(id, errNotAuthenticated)
		return
	}
	c.replyErr(id, errIdentifiedSend)
}

var errIdentifiedSend = wire.NewError(wire.Code_UNSUPPORTED, "skyd does not take sends that name their sender: "+
	"send sealed, with the recipient's delivery token on an anonymous connection or as a sealed message request (Send.sealed)")

// sendDone answers a send once its batch has committed: err is nil, the
// message's own refusal, or the store's error.
func (c *conn) sendDone(id uint64, err error) {
	if err != nil {
		c.s.m.rejected.Inc()
		c.replyErr(id, c.storeError(err))
		return
	}
	c.replySent(id)
}

func (c *conn) ack(id uint64, r *wire.Ack) {
	if !c.isAuthed() {
		c.replyErr(id, errNotAuthenticated)
		return
	}
	if len(r.GetIds()) > wire.MaxAcksPerRequest {
		c.replyErr(id, wire.NewError(wire.Code_TOO_LARGE, fmt.Sprintf("acknowledge at most %d IDs per request", wire.MaxAcksPerRequest)))
		return
	}
	a := &store.Ack{To: c.address()}
	for _, mid := range r.GetIds() {
		if seq, ok := c.s.ids.decode(mid); ok {
			a.Seqs = append(a.Seqs, seq)
		}
	}
	if len(a.Seqs) == 0 {
		c.replyAcked(id) // unknown IDs are a silent no-op
		return
	}
	c.s.batch.submit(&op{ack: a, c: c, id: id})
}

// ackDone answers an acknowledgement once its batch has committed.
func (c *conn) ackDone(id uint64, err error) {
	if err != nil {
		c.replyErr(id, c.storeError(err))
		return
	}
	c.s.m.acked.Inc()
	c.replyAcked(id)
}

func checkPreKey(what string, k *wire.PreKey, signed bool) *wire.Error {
	switch {
	case k == nil:
		return badRequest("%s is missing", what)
	case len(k.GetKey()) == 0 || len(k.GetKey()) > wire.MaxPreKeyBytes:
		return wire.NewError(wire.Code_TOO_LARGE, fmt.Sprintf("%s key must be 1 to %d bytes", what, wire.MaxPreKeyBytes))
	case len(k.GetSignature()) > wire.MaxSignatureBytes:
		return wire.NewError(wire.Code_TOO_LARGE, fmt.Sprintf("%s signature must be at most %d bytes", what, wire.MaxSignatureBytes))
	case signed && len(k.GetSignature()) == 0:
		return badRequest("%s must be signed", what)
	}
	return nil
}

func toStore(k *wire.PreKey) store.PreKey {
	return store.PreKey{ID: k.GetId(), Key: k.GetKey(), Signature: k.GetSignature()}
}

func (c *conn) uploadPreKeys(id uint64, r *wire.UploadPreKeys) {
	if !c.isAuthed() {
		c.replyErr(id, errNotAuthenticated)
		return
	}
	if n := len(r.GetOneTimeEc()) + len(r.GetOneTimeKyber()); n > wire.MaxPreKeysPerUpload {
		c.replyErr(id, wire.NewError(wire.Code_TOO_LARGE, fmt.Sprintf("%d one-time prekeys in one upload; the limit is %d, split the upload", n, wire.MaxPreKeysPerUpload)))
		return
	}
	var u store.PreKeyUpload
	if k := r.GetSignedEc(); k != nil {
		if e := checkPreKey("signed_ec", k, true); e != nil {
			c.replyErr(id, e)
			return
		}
		sk := toStore(k)
		u.SignedEC = &sk
	}
	if k := r.GetLastResortKyber(); k != nil {
		if e := checkPreKey("last_resort_kyber", k, true); e != nil {
			c.replyErr(id, e)
			return
		}
		lk := toStore(k)
		u.LastResortKyber = &lk
	}
	for _, k := range r.GetOneTimeEc() {
		if e := checkPreKey("one_time_ec", k, false); e != nil {
			c.replyErr(id, e)
			return
		}
		u.OneTimeEC = append(u.OneTimeEC, toStore(k))
	}
	for _, k := range r.GetOneTimeKyber() {
		if e := checkPreKey("one_time_kyber", k, true); e != nil {
			c.replyErr(id, e)
			return
		}
		u.OneTimeKyber = append(u.OneTimeKyber, toStore(k))
	}
	a := c.address()
	now := c.s.now()
	if wait, ok := c.s.uploadLimit.take(a.Account, now); !ok {
		c.s.m.rateLimited.Inc()
		c.replyErr(id, rateLimited("this account uploads prekeys too often", wait))
		return
	}
	if wait, ok := c.s.uploadBytes.takeN(a.Account, u.Bytes(), now); !ok {
		c.s.m.rateLimited.Inc()
		c.replyErr(id, rateLimited("this account uploads too many prekey bytes", wait))
		return
	}
	if err := c.s.st.UploadPreKeys(c.s.ctx, a, u); err != nil {
		c.replyErr(id, c.storeError(err))
		return
	}
	c.prekeyCounts(id)
}

func (c *conn) prekeyCounts(id uint64) {
	if !c.isAuthed() {
		c.replyErr(id, errNotAuthenticated)
		return
	}
	n, err := c.s.st.CountPreKeys(c.s.ctx, c.address())
	if err != nil {
		c.replyErr(id, c.storeError(err))
		return
	}
	c.reply(id, &wire.Response{Result: &wire.Response_PrekeyCounts{PrekeyCounts: &wire.PreKeyCounts{Ec: uint32(n.EC), Kyber: uint32(n.Kyber)}}})
}

func fromStore(k store.PreKey) *wire.PreKey {
	return &wire.PreKey{Id: k.ID, Key: k.Key, Signature: k.Signature}
}

func (c *conn) fetchBundles(id uint64, r *wire.FetchBundles) {
	if !c.isAuthed() {
		c.replyErr(id, errNotAuthenticated)
		return
	}
	if !ValidAccountID(r.GetAccount()) {
		c.replyErr(id, badRequest("fetch_bundles needs a valid account ID"))
		return
	}
	now := c.s.now()
	if e := c.mayPost(now); e != nil {
		// Bundles are for starting sessions, i.e. sending.
		c.replyErr(id, e)
		return
	}
	if wait, ok := c.s.bundleLimit.take(c.address().Account+"\x00"+r.GetAccount(), now); !ok {
		c.s.m.rateLimited.Inc()
		c.replyErr(id, rateLimited("too many prekey bundles fetched for this account", wait))
		return
	}
	// One-time keys go to at most BundleTargetRate fetches per target, from
	// everyone together; beyond it a bundle carries only the signed and
	// last-resort keys (a session still starts), so nobody drains a
	// target's one-time keys faster than its client tops them up.
	_, oneTime := c.s.bundleTarget.take(r.GetAccount(), now)
	bs, err := c.s.st.TakeBundles(c.s.ctx, r.GetAccount(), r.GetDevice(), oneTime)
	if err != nil {
		c.replyErr(id, c.storeError(err))
		return
	}
	out := &wire.Bundles{}
	for _, b := range bs {
		wb := &wire.Bundle{
			Device:          b.Device,
			RegistrationId:  b.RegistrationID,
			IdentityKey:     b.IdentityKey,
			SignedEc:        fromStore(b.SignedEC),
			Kyber:           fromStore(b.Kyber),
			KyberLastResort: b.KyberLastResort,
		}
		if b.OneTimeEC != nil {
			wb.OneTimeEc = fromStore(*b.OneTimeEC)
		}
		out.Bundles = append(out.Bundles, wb)
	}
	c.s.m.bundles.Add(uint64(len(bs)))
	c.reply(id, &wire.Response{Result: &wire.Response_Bundles{Bundles: out}})
}

func (c *conn) getAccount(id uint64) {
	if !c.isAuthed() {
		c.replyErr(id, errNotAuthenticated)
		return
	}
	a, err := c.s.st.Account(c.s.ctx, c.address().Account)
	if err != nil {
		c.replyErr(id, c.storeError(err))
		return
	}
	now := c.s.now()
	c.reply(id, &wire.Response{Result: &wire.Response_Account{Account: accountInfo(a, now)}})
	a.IdentityKey = nil
	c.acct, c.acctChecked = a, now
}

func (c *conn) deleteAccount(id uint64) {
	if !c.isAuthed() {
		c.replyErr(id, errNotAuthenticated)
		return
	}
	acct := c.address().Account
	err := c.s.st.DeleteAccount(c.s.ctx, acct)
	c.s.verifiers.forget(acct)
	if err != nil {
		c.replyErr(id, c.storeError(err))
		return
	}
	for _, other := range c.s.hub.account(acct) {
		if other != c {
			go other.fail(wire.Code_NOT_FOUND, "this account was deleted", ws.StatusNormalClosure)
		}
	}
	c.s.accountDeleted(acct)
	c.reply(id, &wire.Response{Result: &wire.Response_AccountDeleted{AccountDeleted: &wire.AccountDeleted{}}})
	// The answer is queued first, so the client reads it before the close.
	c.fail(wire.Code_NOT_FOUND, "this account was deleted", ws.StatusNormalClosure)
}
