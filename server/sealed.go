package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/server/ws"
	"github.com/skymsg/sky/wire"
)

// Sealed delivery. A client sends a sealed-sender envelope either on an
// anonymous connection with the recipient's delivery token (the server
// never learns who sent it), or, for a first contact whose token it does
// not have, as a sealed request on its authenticated connection (rate
// limited per sender). Either way the message is stored and pushed without
// a sender, and its size must be one of wire.SealedSizes.
//
// The server's part of sealed sender is its certified key: the operator's
// trust root signs a server certificate for it offline (Certify), and the
// server signs short-lived sender certificates for its authenticated
// devices with it.

// sealedMeta is the store.Meta name of the server's sealed-sender record.
const sealedMeta = "sealed-server"

// DefaultSenderCertLifetime is how long a sender certificate is valid.
const DefaultSenderCertLifetime = 24 * time.Hour

// ErrNoServerCertificate: the operator has not certified this server yet.
var ErrNoServerCertificate = errors.New("this server has no sealed-sender certificate yet: create a trust root offline " +
	"(skyd admin trust-root init) and certify the server with it (skyd admin trust-root certify)")

// sealedState is the server's certified key, as loaded from the store.
type sealedState struct {
	root   curve.PublicKey
	issuer *sealed.Issuer
}

// Certify makes a new server key, has the trust root sign a certificate for
// it with ID keyID (0: one more than the current key's), and stores both in
// st, replacing the server's previous key. Running servers pick it up within
// their sweep interval. The trust root's private key is used for the
// signature only and never stored.
func Certify(ctx context.Context, st store.Store, root *sealed.TrustRoot, keyID uint32) (*sealed.ServerCertificate, error) {
	if keyID == 0 {
		keyID = 1
		if cur, err := loadSealed(ctx, st); err == nil {
			keyID = cur.issuer.ServerCertificate().KeyID() + 1
		} else if !errors.Is(err, ErrNoServerCertificate) {
			return nil, err
		}
		if keyID == sealed.RevokedKeyID {
			keyID++
		}
	}
	kp := curve.GenerateKeyPair()
	cert, err := root.Certify(keyID, kp.Public)
	if err != nil {
		return nil, err
	}
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, root.Public().Bytes())
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, cert.Bytes())
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendBytes(b, kp.Private.Bytes())
	if err := st.SetMeta(ctx, sealedMeta, b); err != nil {
		return nil, err
	}
	return cert, nil
}

// TrustRoot returns the public key of the trust root that certified the
// server's key in st: what clients pin.
func TrustRoot(ctx context.Context, st store.Store) (curve.PublicKey, error) {
	s, err := loadSealed(ctx, st)
	if err != nil {
		return curve.PublicKey{}, err
	}
	return s.root, nil
}

func loadSealed(ctx context.Context, st store.Store) (*sealedState, error) {
	b, err := st.Meta(ctx, sealedMeta)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoServerCertificate
	}
	if err != nil {
		return nil, err
	}
	return parseSealed(b)
}

// parseSealed decodes the stored sealed-sender record: {1: trust root's
// public key, 2: server certificate, 3: server private key}, checking that
// the certificate is the root's and the key the certificate's.
func parseSealed(b []byte) (*sealedState, error) {
	var rootB, certB, keyB []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.BytesType {
			return nil, errors.New("server: the stored sealed-sender record is damaged; certify the server again")
		}
		v, m := protowire.ConsumeBytes(b[n:])
		if m < 0 {
			return nil, errors.New("server: the stored sealed-sender record is damaged; certify the server again")
		}
		switch num {
		case 1:
			rootB = v
		case 2:
			certB = v
		case 3:
			keyB = v
		}
		b = b[n+m:]
	}
	root, err := curve.ParsePublicKey(rootB)
	if err != nil {
		return nil, fmt.Errorf("server: the stored trust root does not parse (%w); certify the server again", err)
	}
	cert, err := sealed.ParseServerCertificate(certB)
	if err != nil {
		return nil, fmt.Errorf("server: the stored server certificate does not parse (%w); certify the server again", err)
	}
	if err := cert.Validate(root); err != nil {
		return nil, fmt.Errorf("server: the stored server certificate is not signed by the stored trust root (%w); certify the server again", err)
	}
	key, err := curve.ParsePrivateKey(keyB)
	if err != nil {
		return nil, fmt.Errorf("server: the stored server key does not parse (%w); certify the server again", err)
	}
	is, err := sealed.NewIssuer(cert, key)
	if err != nil {
		return nil, fmt.Errorf("server: the stored server key is not the certificate's (%w); certify the server again", err)
	}
	return &sealedState{root: root, issuer: is}, nil
}

// loadSealedState (re)reads the server's certified key; a server without
// one simply answers sender-certificate requests with UNSUPPORTED.
func (s *Server) loadSealedState(ctx context.Context) {
	st, err := loadSealed(ctx, s.st)
	switch {
	case err == nil:
		s.sealed.Store(st)
	case errors.Is(err, ErrNoServerCertificate):
	default:
		s.log.Error("cannot load the sealed-sender certificate; keeping the one loaded before", "err", err)
	}
}

// ServerCertificate returns the server certificate sender certificates are
// signed under, or nil if the operator has not certified this server.
func (s *Server) ServerCertificate() *sealed.ServerCertificate {
	if st := s.sealed.Load(); st != nil {
		return st.issuer.ServerCertificate()
	}
	return nil
}

func (s *Server) serverCertificateBytes() []byte {
	if c := s.ServerCertificate(); c != nil {
		return c.Bytes()
	}
	return nil
}

// coarse is t as the server stores it: rounded down to the time
// granularity, so no stored time says when within the hour (by default)
// something happened.
func (s *Server) coarse(t time.Time) time.Time { return t.Truncate(s.cfg.TimeGranularity) }

// anonState is what an anonymous connection carries.
type anonState struct {
	limiter *rate.Limiter  // sealed sends on this connection
	queued  map[string]int // sends accepted per recipient account, for its share
	asked   bool           // it sent its access request (access.go)
}

// goAnonymous makes this connection anonymous (its Hello asked so): it will
// never authenticate, so the handshake timeout no longer applies; instead
// the connection lasts at most Config.AnonymousLifetime (clients open one
// per batch of sends), so idle anonymous connections cannot hold the
// server's connection slots.
func (c *conn) goAnonymous() {
	c.anon = &anonState{limiter: c.s.cfg.SealedRate.limiter()}
	c.open = true
	t := time.AfterFunc(c.s.cfg.AnonymousLifetime, func() {
		c.fail(wire.Code_UNAVAILABLE, "an anonymous connection lasts at most "+c.s.cfg.AnonymousLifetime.String()+"; open a new one to send more", ws.StatusGoingAway)
	})
	c.mu.Lock()
	if c.authTimer != nil {
		c.authTimer.Stop()
	}
	if c.closed {
		t.Stop()
		t = nil
	}
	c.authTimer = t
	c.mu.Unlock()
}

var errAnonymous = wire.NewError(wire.Code_BAD_REQUEST,
	"this connection announced itself anonymous: it only sends sealed messages with delivery tokens; open another connection to authenticate")

// sendSealed queues a sealed message: with a delivery token on an
// anonymous connection, or as a sealed request on an authenticated one.
func (c *conn) sendSealed(id uint64, r *wire.Send) {
	token := r.GetDeliveryToken()
	switch {
	case c.anon != nil && len(token) == 0:
		c.replyErr(id, badRequest("a send on an anonymous connection needs the recipient's delivery token; send a message request on an authenticated connection instead"))
		return
	case c.anon == nil && len(token) > 0:
		c.replyErr(id, badRequest("send a delivery token only on an anonymous connection: here it would tie you to the message"))
		return
	case c.anon != nil && r.GetSealed():
		c.replyErr(id, badRequest("sealed requests go on an authenticated connection"))
		return
	case c.anon == nil && !c.isAuthed():
		c.replyErr(id, errNotAuthenticated)
		return
	case len(token) > 0 && len(token) != wire.DeliveryTokenBytes:
		c.replyErr(id, badRequest("a delivery token is %d bytes", wire.DeliveryTokenBytes))
		return
	case !ValidAccountID(r.GetAccount()) || r.GetDevice() == 0:
		c.replyErr(id, badRequest("send needs a valid account ID and a device number from 1"))
		return
	case len(r.GetContent()) > wire.MaxMessageBytes:
		c.s.m.rejected.Inc()
		c.replyErr(id, wire.NewError(wire.Code_TOO_LARGE, fmt.Sprintf("message content is over the %d-byte limit; split it or send it as an attachment", wire.MaxMessageBytes)))
		return
	case !wire.IsSealedSize(len(r.GetContent())):
		c.s.m.rejected.Inc()
		c.replyErr(id, badRequest("sealed content must be padded to exactly one of %v bytes", wire.SealedSizes))
		return
	}
	now := c.s.now()
	if c.anon != nil {
		if wait, ok := take(c.anon.limiter, now); !ok {
			c.s.m.rateLimited.Inc()
			c.replyErr(id, rateLimited("this connection sends sealed messages too fast", wait))
			return
		}
		if e := c.checkToken(r.GetAccount(), token, now); e != nil {
			c.replyErr(id, e)
			return
		}
		if e := c.anonQueue(r.GetAccount()); e != nil {
			c.s.m.rateLimited.Inc()
			c.replyErr(id, e)
			return
		}
		if wait, ok := c.s.sealedLimit.take(r.GetAccount(), now); !ok {
			c.s.m.rateLimited.Inc()
			c.replyErr(id, rateLimited("this recipient receives sealed messages too fast", wait))
			return
		}
	} else {
		if e := c.mayPost(now); e != nil {
			c.s.m.rejected.Inc()
			c.replyErr(id, e)
			return
		}
		from := c.address().Account
		if wait, ok := c.s.sendLimit.take(from, now); !ok {
			c.s.m.rateLimited.Inc()
			c.replyErr(id, rateLimited("this account sends too fast", wait))
			return
		}
		if wait, ok := c.s.requestLimit.take(from, now); !ok {
			c.s.m.rateLimited.Inc()
			c.replyErr(id, rateLimited("this account sends too many message requests; wait for replies (a contact who answers shares a delivery token)", wait))
			return
		}
		if wait, ok := c.s.requestIn.take(r.GetAccount(), now); !ok {
			c.s.m.rateLimited.Inc()
			c.replyErr(id, rateLimited("this recipient has too many message requests waiting; retry later", wait))
			return
		}
	}
	c.s.batch.submit(&op{
		msg:     store.NewMessage{To: store.Address{Account: r.GetAccount(), Device: r.GetDevice()}, Received: c.s.coarse(now), Body: r.GetContent()},
		arrived: time.Now(),
		c:       c,
		id:      id,
	})
}

// anonQueue counts one more message this anonymous connection queues for
// account, or refuses it once the connection has queued its share for
// that recipient: a tenth of a queue.
func (c *conn) anonQueue(account string) *wire.Error {
	if c.anon.queued[account] >= max(c.s.cfg.QueueCap/10, 1) {
		return rateLimited("this connection has sent its share of the recipient's queue; open a new one later", c.s.cfg.AnonymousLifetime)
	}
	if c.anon.queued == nil {
		c.anon.queued = map[string]int{}
	}
	c.anon.queued[account]++
	return nil
}

// dummyVerifier is compared against when an account does not exist or has
// no verifier, so a refusal costs the same work either way.
var dummyVerifier = store.RandomBytes(wire.DeliveryVerifierBytes)

var errTokenRejected = wire.NewError(wire.Code_TOKEN_REJECTED, "the delivery token is not the recipient's (or there is no such account): send a message request instead")

// checkToken refuses token unless it is account's. Wrong tokens are
// charged to the connection's source address (in memory only): each costs
// a store look-up, and an address that spent its budget is told to wait
// before any is looked up.
func (c *conn) checkToken(account string, token []byte, now time.Time) *wire.Error {
	src := c.ip.String()
	if wait, ok := c.s.tokenFailLimit.peek(src, now); !ok {
		c.s.m.rateLimited.Inc()
		return rateLimited("too many wrong delivery tokens from your address", wait)
	}
	if !c.s.tokenMatches(account, token) {
		c.s.m.rejected.Inc()
		c.s.tokenFailLimit.charge(src, now)
		return errTokenRejected
	}
	return nil
}

// tokenMatches reports whether token is account's delivery token. An
// unknown account, an account without a verifier and a wrong token all give
// false, after the same work.
func (s *Server) tokenMatches(account string, token []byte) bool {
	want := wire.DeliveryVerifier(account, token)
	now := time.Now()
	cached, epoch := s.verifiers.get(account, now)
	if cached != nil && subtle.ConstantTimeCompare(cached, want) == 1 {
		return true // the same token matched moments ago (verifiers.go)
	}
	v, err := s.st.DeliveryVerifier(s.ctx, account)
	ok := err == nil && len(v) == wire.DeliveryVerifierBytes
	if !ok {
		v = dummyVerifier
	}
	if subtle.ConstantTimeCompare(v, want) == 1 && ok {
		s.verifiers.put(account, v, epoch, now)
		return true
	}
	return false
}

func (c *conn) getSenderCertificate(id uint64) {
	if !c.isAuthed() {
		c.replyErr(id, errNotAuthenticated)
		return
	}
	st := c.s.sealed.Load()
	if st == nil {
		c.replyErr(id, wire.NewError(wire.Code_UNSUPPORTED, "this server's operator has not set up sealed sender yet (skyd admin trust-root certify); ask them"))
		return
	}
	now := c.s.now()
	if e := c.mayPost(now); e != nil {
		c.replyErr(id, e)
		return
	}
	a := c.address()
	acct, err := c.s.st.Account(c.s.ctx, a.Account)
	if err != nil {
		c.replyErr(id, c.storeError(err))
		return
	}
	ik, err := curve.ParsePublicKey(acct.IdentityKey)
	if err != nil || a.Device > sealed.MaxDeviceID {
		c.replyErr(id, badRequest("this device's registered identity key is not a Curve25519 key, so it cannot have a sender certificate"))
		return
	}
	cert, err := st.issuer.Issue(sealed.Sender{UUID: a.Account, DeviceID: a.Device, IdentityKey: ik}, now.Add(c.s.cfg.SenderCertLifetime))
	if err != nil {
		c.replyErr(id, wire.NewError(wire.Code_INTERNAL, "the server could not sign a sender certificate; retry later"))
		return
	}
	c.s.m.senderCerts.Inc()
	c.reply(id, &wire.Response{Result: &wire.Response_SenderCertificate{SenderCertificate: &wire.SenderCertificate{Certificate: cert.Bytes()}}})
}

func (c *conn) setDeliveryVerifier(id uint64, r *wire.SetDeliveryVerifier) {
	if !c.isAuthed() {
		c.replyErr(id, errNotAuthenticated)
		return
	}
	v := r.GetVerifier()
	if len(v) != 0 && len(v) != wire.DeliveryVerifierBytes {
		c.replyErr(id, badRequest("a delivery verifier is %d bytes (or empty, to remove it)", wire.DeliveryVerifierBytes))
		return
	}
	if len(v) == 0 {
		v = nil
	}
	err := c.s.st.SetDeliveryVerifier(c.s.ctx, c.address().Account, v)
	c.s.verifiers.forget(c.address().Account) // after the write: a look-up racing it does not remember the old one
	if err != nil {
		c.replyErr(id, c.storeError(err))
		return
	}
	c.reply(id, &wire.Response{Result: &wire.Response_DeliveryVerifierSet{DeliveryVerifierSet: &wire.DeliveryVerifierSet{}}})
}

// refuseAnonymous answers requests an anonymous connection may not make.
func (c *conn) refuseAnonymous(id uint64) { c.replyErr(id, errAnonymous) }
