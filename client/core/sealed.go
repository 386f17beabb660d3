package core

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/protostore"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/wire"
)

// Sealed sending. Every message leaves as a sealed-sender envelope
// (package protocol/sealed): the server sees the recipient, never the
// sender. The envelope carries a short-lived sender certificate the server
// signed for this device, under the operator's trust root, which this
// client pinned at registration and never replaces: a server presenting
// certificates under another root is refused, loudly (ErrServerCertificate).
//
// Each account has an access key, a random secret it shares only with its
// contacts, inside the messages it sends them (content.Content.AccessKey).
// The delivery token derives from it; the server stores only a verifier of
// the token. A sender holding the recipient's token sends on a fresh
// anonymous connection that never authenticates; one without it (a first
// contact, or a token the recipient has rotated) sends a sealed request on
// its authenticated connection, which the server rate-limits per sender but
// still stores without the sender. Removing a contact rotates the access
// key, so a former contact is back to requests.
//
// Every envelope is padded (sealed.Content.PadTo) to one of the server's
// sealed sizes (wire.SealedSizes).

// Settings of sealed sending.
const (
	setTrustRoot = "trust-root" // bytes: the pinned trust root's public key
	setAccess    = "access"     // 1: own access key; 2: varint 1 once the server has its verifier
)

// deliveryTokenInfo is the HKDF info deriving a delivery token from an
// access key.
const deliveryTokenInfo = "sky/v1 delivery token"

// Errors of sealed sending.
var (
	// ErrTrustRoot: the server's certificate is not signed by the trust
	// root given at registration.
	ErrTrustRoot = errors.New("the server's certificate is not signed by the trust root you were given: " +
		"check the key with the server's operator (skyd admin trust-root show); nothing was registered")
	// ErrNoTrustRoot: Register was given no trust root.
	ErrNoTrustRoot = errors.New("registering needs the server's trust root (its operator prints it: skyd admin trust-root show)")
	// ErrServerCertificate: the server handed out a sender certificate that
	// is not under the pinned trust root, or not this device's.
	ErrServerCertificate = errors.New("the server's sender certificate is not signed by the trust root pinned when this account was made " +
		"(or names someone else): the server may have been replaced or compromised, so nothing is sent; tell the server's operator")
	// ErrNoSealedSender: the server has no sealed-sender certificate.
	ErrNoSealedSender = errors.New("the server's operator has not set up sealed sender (skyd admin trust-root certify), so nothing can be sent; ask them")

	errNoCertificate = errors.New("no sender certificate from the server yet")
	errNoPinned      = errors.New("no identity key pinned")
)

// TrustRoot is the public key of a server operator's trust root, which a
// client pins at registration. Its text form is standard base64 of the key
// (44 characters), as skyd prints it.
type TrustRoot struct{ key curve.PublicKey }

// ParseTrustRoot reads a trust root in its text form (standard or URL
// base64, padding optional, surrounding space ignored).
func ParseTrustRoot(s string) (TrustRoot, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	var b []byte
	var err error
	if strings.ContainsAny(s, "-_") {
		b, err = base64.RawURLEncoding.DecodeString(s)
	} else {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return TrustRoot{}, fmt.Errorf("%w: not base64", errBadTrustRoot)
	}
	k, err := curve.ParsePublicKey(b)
	if err != nil {
		return TrustRoot{}, fmt.Errorf("%w: not a Curve25519 public key", errBadTrustRoot)
	}
	return TrustRoot{key: k}, nil
}

var errBadTrustRoot = errors.New("that is not a trust root (44 characters of base64, as skyd admin trust-root show prints it)")

// String returns the text form.
func (r TrustRoot) String() string {
	if r.key.IsZero() {
		return ""
	}
	return base64.StdEncoding.EncodeToString(r.key.Bytes())
}

// IsZero reports whether r is the zero TrustRoot (none given).
func (r TrustRoot) IsZero() bool { return r.key.IsZero() }

// TrustRoot returns the trust root this client pinned at registration.
func (c *Core) TrustRoot() TrustRoot { return TrustRoot{key: c.root} }

// checkServerCertificate checks a Welcome's server certificate against the
// trust root a registering user was given.
func checkServerCertificate(w *wire.Welcome, root TrustRoot) error {
	if len(w.GetServerCertificate()) == 0 {
		return ErrNoSealedSender
	}
	sc, err := sealed.ParseServerCertificate(w.GetServerCertificate())
	if err != nil || sc.Validate(root.key) != nil {
		return ErrTrustRoot
	}
	return nil
}

// newAccessKey returns a fresh access key.
func newAccessKey() []byte {
	k := make([]byte, content.AccessKeySize)
	rand.Read(k)
	return k
}

// deliveryToken derives the delivery token from an access key.
func deliveryToken(accessKey []byte) []byte {
	t, err := hkdf.Key(sha256.New, accessKey, nil, deliveryTokenInfo, wire.DeliveryTokenBytes)
	if err != nil {
		panic(err) // only for lengths HKDF cannot produce
	}
	return t
}

// initSealed pins the trust root and makes the account's first access key,
// in the registration's first transaction.
func initSealed(tx *store.Tx, root TrustRoot) error {
	if err := tx.SetSetting(setTrustRoot, root.key.Bytes()); err != nil {
		return err
	}
	return tx.SetSetting(setAccess, PutBytes(nil, 1, newAccessKey()))
}

// loadSealed reads the pinned trust root and the own access key.
func (c *Core) loadSealed(tx *store.Tx) error {
	b, err := Setting(tx, setTrustRoot)
	if err != nil {
		return err
	}
	if c.root, err = curve.ParsePublicKey(b); err != nil {
		return fmt.Errorf("%w: this store pins no trust root (it was made by an older Sky); create a new account with sky init", store.ErrCorrupt)
	}
	f, err := SettingFields(tx, setAccess)
	if err != nil {
		return err
	}
	if c.access = f.One(1); len(c.access) != content.AccessKeySize {
		return fmt.Errorf("%w: the access key is damaged", store.ErrCorrupt)
	}
	c.accessUploaded = f.Nums[2] == 1
	return nil
}

// accessKey returns the own access key, shared in every outgoing content.
func (c *Core) AccessKey() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.access
}

// rotateAccessKey replaces the own access key, so that senders holding the
// old token are back to message requests, and uploads the new verifier at
// once if connected (else at the next connection).
func (c *Core) RotateAccessKey() error {
	k := newAccessKey()
	if err := c.Update(func(tx *store.Tx) error {
		if err := tx.SetSetting(setAccess, PutBytes(nil, 1, k)); err != nil {
			return err
		}
		// The account's other devices send with the same key.
		return c.syncSettings(tx, PutBytes(nil, 6, k))
	}); err != nil {
		return err
	}
	c.mu.Lock()
	c.access, c.accessUploaded = k, false
	c.mu.Unlock()
	poke(c.sealedKick)
	c.KickOutbox()
	return nil
}

// maintainSealed uploads the verifier of the current access key if the
// server does not have it, and fetches a fresh sender certificate, checking
// it against the pinned trust root. It returns when the next refresh is
// due. A server without sealed sender, or one whose certificate is not under
// the pinned root, stops sending (Flush reports why) but not receiving.
func (c *Core) maintainSealed(ctx context.Context, cn *conn.Conn) (time.Duration, error) {
	c.mu.Lock()
	key, uploaded := c.access, c.accessUploaded
	c.mu.Unlock()
	if !uploaded {
		v := wire.DeliveryVerifier(c.acct.ID, deliveryToken(key))
		if _, err := cn.Call(ctx, &wire.Request{Op: &wire.Request_SetDeliveryVerifier{SetDeliveryVerifier: &wire.SetDeliveryVerifier{Verifier: v}}}); err != nil {
			return 0, serverError(err)
		}
		err := c.Update(func(tx *store.Tx) error {
			f, err := SettingFields(tx, setAccess)
			if err != nil || string(f.One(1)) != string(key) {
				return err // rotated meanwhile: the next round uploads the new one
			}
			return tx.SetSetting(setAccess, PutNum(PutBytes(nil, 1, key), 2, 1))
		})
		if err != nil {
			return 0, err
		}
		c.mu.Lock()
		if string(c.access) == string(key) {
			c.accessUploaded = true
		}
		c.mu.Unlock()
	}
	start := time.Now()
	r, err := cn.Call(ctx, &wire.Request{Op: &wire.Request_GetSenderCertificate{GetSenderCertificate: &wire.GetSenderCertificate{}}})
	switch {
	case errors.Is(err, wire.ErrUnsupported):
		c.stopSending(ErrNoSealedSender)
		return time.Minute, nil
	case errors.Is(err, wire.ErrSubscriptionExpired), errors.Is(err, wire.ErrAccountRevoked):
		c.stopSending(serverError(err))
		return time.Hour, nil
	case err != nil:
		return 0, serverError(err)
	}
	cert, err := sealed.ParseSenderCertificate(r.GetSenderCertificate().GetCertificate())
	// The server's clock decides a certificate's life (recipients check it
	// against the server's receive time), so judge it by the server's time.
	serverNow := time.Unix(cn.Welcome().GetServerTime(), 0).Add(time.Since(c.connectedAt(cn)))
	if err != nil || cert.Validate(serverNow, c.root) != nil || cert.UUID() != c.acct.ID ||
		cert.DeviceID() != c.acct.DeviceID || cert.IdentityKey() != c.Local.KeyPair.Public {
		c.Opts.Logger.Error("the server's sender certificate is not under the pinned trust root")
		c.stopSending(ErrServerCertificate)
		return time.Hour, nil
	}
	c.mu.Lock()
	c.cert = cert
	c.mu.Unlock()
	c.Notify()
	c.KickOutbox()
	life := cert.Expires().Sub(serverNow)
	return max(life/2-time.Since(start), time.Minute), nil
}

// stopSending records why nothing can be sent until the next connection.
func (c *Core) stopSending(err error) {
	c.mu.Lock()
	c.sendErr = err
	c.mu.Unlock()
	c.Notify()
}

// connectedAt returns when cn's Welcome arrived (approximately: when the
// client recorded the connection).
func (c *Core) connectedAt(cn *conn.Conn) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cn == c.conn && !c.connSince.IsZero() {
		return c.connSince
	}
	return time.Now()
}

// sealedLoop keeps the verifier uploaded and the sender certificate fresh
// while connected.
func (c *Core) sealedLoop(ctx context.Context, cn *conn.Conn, next time.Duration) {
	for {
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-c.sealedKick:
			t.Stop()
		}
		var err error
		if next, err = c.maintainSealed(ctx, cn); err != nil {
			if ctx.Err() == nil {
				c.Opts.Logger.Warn("refreshing the sender certificate failed; retrying", "err", err)
			}
			next = retryAfter
		}
	}
}

// senderCertificate returns the current sender certificate, or nil.
func (c *Core) SenderCertificate() *sealed.SenderCertificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cert
}

// sealFor wraps a ciphertext for peer's device (type byte and message, as
// the outbox keeps it) in a sealed envelope, padded to a sealed size.
func (c *Core) SealFor(peer string, dev uint32, inner []byte, cert *sealed.SenderCertificate) ([]byte, error) {
	var to curve.PublicKey
	err := c.View(func(tx *store.Tx) error {
		k, ok, err := protostore.Pinned(tx, protocol.Address{Name: peer, DeviceID: dev})
		if err == nil && !ok {
			err = fmt.Errorf("%w for %s", errNoPinned, peer)
		}
		to = k
		return err
	})
	if err != nil {
		return nil, err
	}
	sc := &sealed.Content{Type: sealed.MessageType(inner[0]), Sender: cert, Message: inner[1:]}
	plain, err := sc.Bytes()
	if err != nil {
		return nil, err
	}
	if sc.PadTo, err = padTarget(len(plain)); err != nil {
		return nil, err
	}
	return sealed.Encrypt(sc, c.Local.KeyPair, to)
}

// padTarget returns the content size that puts an envelope made from n
// bytes of content into the smallest sealed size it fits.
func padTarget(n int) (int, error) {
	for _, size := range wire.SealedSizes {
		if u, ok := sealed.ContentSizeFor(size); ok && (u == n || u >= n+2) {
			return u, nil
		}
	}
	return 0, fmt.Errorf("a message of %d bytes does not fit the largest sealed size; shorten it", n)
}

// anonPool holds the anonymous connections of one outbox pass: one per
// recipient, so the server cannot even tell that two sealed messages to
// different people came from the same sender.
// It is safe for concurrent use (the outbox sends to several recipients
// at once).
type anonPool struct {
	url   string
	mu    sync.Mutex
	conns map[string]*conn.Conn
}

func (p *anonPool) get(ctx context.Context, peer string) (*conn.Conn, error) {
	p.mu.Lock()
	cn := p.conns[peer]
	p.mu.Unlock()
	if cn != nil {
		select {
		case <-cn.Done():
		default:
			return cn, nil
		}
	}
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cn, err := conn.DialAnonymous(dctx, p.url)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		p.conns = map[string]*conn.Conn{}
	}
	if old := p.conns[peer]; old != nil {
		old.Close()
	}
	p.conns[peer] = cn
	return cn, nil
}

func (p *anonPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, cn := range p.conns {
		cn.Close()
	}
}

// maxValidCerts bounds the memo of sender certificates whose signatures
// were checked.
const maxValidCerts = 1024

// certValid reports whether a sender certificate is signed under the
// pinned trust root (sealed.SenderCertificate.Validate) and not expired at
// at. The signature check, two XEdDSA verifications, is remembered per
// certificate: a contact's certificate stays the same for a day.
func (c *Core) certValid(cert *sealed.SenderCertificate, at time.Time) bool {
	if at.After(cert.Expires()) {
		return false
	}
	c.mu.Lock()
	ok := c.validCerts[string(cert.Bytes())] // a lookup copies nothing
	c.mu.Unlock()
	if ok {
		return true
	}
	if cert.Validate(at, c.root) != nil {
		return false
	}
	c.mu.Lock()
	if c.validCerts == nil || len(c.validCerts) >= maxValidCerts {
		c.validCerts = map[string]bool{}
	}
	c.validCerts[string(cert.Bytes())] = true
	c.mu.Unlock()
	return true
}

// isSealed reports whether an envelope's content is sealed: it starts with
// a sealed-sender version byte (1.x, or 2.x for a multi-recipient copy).
// Fields the decoder does not know, such as a sender the server adds, are
// never read.
func isSealed(env *wire.Envelope) bool {
	raw := env.GetContent()
	return len(raw) > 0 && (raw[0]>>4 == sealed.Version>>4 || raw[0]>>4 == sealed.V2ReceivedVersion>>4)
}

// unseal opens a sealed envelope addressed to this device and validates its
// certificate under the pinned trust root, at the server's receive time (as
// libsignal does: the certificate had to be valid when the message was
// sent; the server's clock is what issued it). It returns the sender, the
// inner ciphertext (type byte and message) and the identity key the
// certificate vouches for; or a reason to drop the envelope.
func (c *Core) unseal(env *wire.Envelope, now time.Time) (peer string, dev uint32, inner []byte, key curve.PublicKey, drop string) {
	at := now
	if t := env.GetServerTime(); t > 0 {
		at = time.Unix(t, 0)
	}
	sc, err := c.opener.Open(env.GetContent())
	switch {
	case err != nil:
		return "", 0, nil, key, "a sealed message that does not open"
	case !c.certValid(sc.Sender, at):
		return "", 0, nil, key, "a sealed message whose sender certificate is not under the pinned trust root, or expired"
	case sc.Type != sealed.TypeWhisper && sc.Type != sealed.TypePreKey && sc.Type != sealed.TypeSenderKey:
		return "", 0, nil, key, "a sealed message of a kind this version does not read"
	}
	peer, dev = sc.Sender.UUID(), sc.Sender.DeviceID()
	if !ValidID(peer) || dev == 0 || dev > sealed.MaxDeviceID || (peer == c.acct.ID && dev == c.acct.DeviceID) {
		return "", 0, nil, key, "a sealed message with an impossible sender"
	}
	return peer, dev, append([]byte{byte(sc.Type)}, sc.Message...), sc.Sender.IdentityKey(), ""
}

// NewTrustRoot returns the trust root of a public key (as a test server
// makes one).
func NewTrustRoot(k curve.PublicKey) TrustRoot { return TrustRoot{key: k} }
