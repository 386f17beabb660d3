package core

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/wire"
)

// Peers' access keys, and what the client does when the server refuses a
// delivery token.
//
// A peer's own access key arrives inside their messages, end to end; with
// it the client sends to them on anonymous connections, so the server never
// learns who writes. A server that wants to learn it anyway can answer such
// a send TOKEN_REJECTED, hoping the client falls back to its authenticated
// connection. So the server's word never makes the client give up a key the
// peer gave it: the key is kept, the peer's messages wait, the user is told
// (AccessRefusedEvent, and Flush returns an *AccessRefusedError), and the
// client asks the peer end to end for their current key (askaccess.go),
// in a sealed access request on an anonymous connection, which tells the
// server nothing new. The peer's answer, or their next message, brings
// their current key (a genuine rotation: they removed someone as a contact)
// and sending resumes under it; if they confirm the very key the server
// refuses, the user is told the server refuses a valid token. The user may
// also send as a message request (SendAsRequest, sky send-as-request),
// naming themselves to the server for that peer.
//
// A key that a group member relayed (a group update shares the members'
// keys) is only that member's word: it is kept apart, used until the peer's
// own arrives, never relayed further, and forgotten when refused — then the
// message goes as a sealed request, as a first message to anyone does.
const (
	setPeerAccess   = "peer-access/"    // + peer: the access key the peer gave
	setSharedAccess = "shared-access/"  // + peer: an access key a group member relayed
	setRefused      = "access-refused/" // + peer: the peer's own key the server refused
)

// AccessRefusedEvent: the server refused the delivery token of a peer's
// own access key. Messages to them wait (they are not sent on the user's
// own connection, which would tell the server who writes to whom) until
// the peer answers the client's access request or writes with a current
// key, the server accepts the token again, or the user chooses
// SendAsRequest. Confirmed: the peer confirmed end to end the very key
// whose token the server refuses, so the server is refusing a valid token.
type AccessRefusedEvent struct {
	Peer      string
	Confirmed bool
}

func (*AccessRefusedEvent) event() {}

// AccessRefusedError says why messages to a peer wait: the server refused
// their delivery token. errors.Is(err, ErrAccessRefused) is true.
// Confirmed is as in AccessRefusedEvent.
type AccessRefusedError struct {
	Peer      string
	Confirmed bool
}

// ErrAccessRefused matches every *AccessRefusedError.
var ErrAccessRefused = errors.New("the server refused a contact's delivery token")

func (e *AccessRefusedError) Error() string {
	if e.Confirmed {
		return fmt.Sprintf("the server refuses the delivery token of %s although %s confirmed, end to end, that the key behind it is current: "+
			"the server is refusing a valid token, probably to learn who writes to %s. Your messages to them wait; "+
			"sky send-as-request %s sends them as a message request, which tells the server that you write to %s", e.Peer, e.Peer, e.Peer, e.Peer, e.Peer)
	}
	return fmt.Sprintf("the server refused the delivery token of %s, so your messages to them wait: either they removed you as a contact, "+
		"or the server is trying to learn who writes to them. Sky asked %s, end to end and without naming you to the server, for their current key; "+
		"the messages go out when they answer or write to you. If they do not, sky send-as-request %s sends them as a message request, "+
		"which tells the server that you write to %s", e.Peer, e.Peer, e.Peer, e.Peer)
}

// Is makes errors.Is(err, ErrAccessRefused) true.
func (e *AccessRefusedError) Is(target error) bool { return target == ErrAccessRefused }

// peerKey is how the client may send to a peer without naming itself.
type peerKey struct {
	key    []byte // nil: no key, send as a sealed request
	own    bool   // the peer gave it (else a group member relayed it)
	refsed bool   // the server refused this own key before
	asked  bool   // the client asked the peer for their current key (askaccess.go)
}

func (c *Core) peerKey(peer string) (k peerKey, err error) {
	err = c.View(func(tx *store.Tx) (err error) {
		k, err = peerKeyOf(tx, peer)
		return err
	})
	return k, err
}

// peerKeyOf returns the key the client sends to peer with: their own if
// they gave one, else one a group member relayed.
func peerKeyOf(tx *store.Tx, peer string) (peerKey, error) {
	own, err := Setting(tx, setPeerAccess+peer)
	if err != nil {
		return peerKey{}, err
	}
	if len(own) == content.AccessKeySize {
		refused, err := Setting(tx, setRefused+peer)
		if err != nil {
			return peerKey{}, err
		}
		asked, err := Setting(tx, setAsked+peer)
		return peerKey{key: own, own: true, refsed: string(refused) == string(own), asked: asked != nil}, err
	}
	shared, err := Setting(tx, setSharedAccess+peer)
	if len(shared) != content.AccessKeySize {
		return peerKey{}, err
	}
	return peerKey{key: shared}, err
}

// PeerAccessKey returns the access key peer gave the client themselves
// (nil if unknown): the one a group admin may share with other members.
func PeerAccessKey(tx *store.Tx, peer string) ([]byte, error) {
	return Setting(tx, setPeerAccess+peer)
}

// KeepPeerAccess records the access key a peer shared in a message. Their
// word, new key or the same, ends a refusal of their key (refresh reports
// that, so the outbox tries the peer again).
func KeepPeerAccess(tx *store.Tx, peer string, key []byte) (refresh bool, err error) {
	if len(key) != content.AccessKeySize {
		return false, nil
	}
	refused, err := Setting(tx, setRefused+peer)
	if err != nil {
		return false, err
	}
	if refused != nil {
		// The peer confirms their current key: try it again.
		if err := tx.DeleteSetting(setRefused + peer); err != nil {
			return false, err
		}
		if string(refused) == string(key) {
			// The very key the server refused: if it refuses again,
			// it refuses a valid token.
			if err := tx.SetSetting(setConfirmed+peer, key); err != nil {
				return false, err
			}
		}
	}
	if old, err := Setting(tx, setPeerAccess+peer); err != nil || string(old) == string(key) {
		return refused != nil, err
	}
	if err := tx.SetSetting(setPeerAccess+peer, key); err != nil {
		return false, err
	}
	return refused != nil, tx.DeleteSetting(setSharedAccess + peer)
}

// KeepSharedAccess records an access key of peer that a group member
// relayed, unless the peer gave the client one: the key a peer gave is never
// replaced by another's word.
func KeepSharedAccess(tx *store.Tx, peer string, key []byte) error {
	if len(key) != content.AccessKeySize {
		return nil
	}
	own, err := Setting(tx, setPeerAccess+peer)
	if err != nil || own != nil {
		return err
	}
	return tx.SetSetting(setSharedAccess+peer, key)
}

// forgetAccess deletes what the client keeps of peer's access keys.
func forgetAccess(tx *store.Tx, peer string) error {
	for _, s := range []string{setPeerAccess, setSharedAccess, setRefused, setAsked, setConfirmed} {
		if err := tx.DeleteSetting(s + peer); err != nil {
			return err
		}
	}
	return nil
}

// SendAsRequest lets the messages waiting for peer after a refused delivery
// token go as sealed message requests on the user's own connection — the
// server then learns that the user writes to peer. Only those: peer's key
// is kept, and later messages try its token again (a refusal is announced
// and asked about again).
func (c *Core) SendAsRequest(peer string) error {
	if err := c.CheckPeer(peer); err != nil {
		return err
	}
	err := c.Update(func(tx *store.Tx) error {
		refused := false
		for _, s := range []string{setRefused, setAsked, setConfirmed} {
			v, err := Setting(tx, s+peer)
			if err != nil {
				return err
			}
			refused = refused || v != nil
		}
		if !refused {
			return fmt.Errorf("%w: the server refused no delivery token of %s", ErrNotFound, peer)
		}
		if err := markAsRequests(tx, peer); err != nil {
			return err
		}
		return forgetAsking(tx, peer)
	})
	if err != nil {
		return err
	}
	c.Unblock(peer)
	c.KickOutbox()
	c.Notify()
	return nil
}

// markAsRequests marks every item waiting for peer to go as a sealed
// request.
func markAsRequests(tx *store.Tx, peer string) error {
	items, err := tx.Outbox()
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.To != peer {
			continue
		}
		item, err := DecodeOutItem(it.Payload)
		if err != nil {
			continue // a damaged item fails when the outbox reaches it
		}
		item.AsRequest = true
		it.Payload = EncodeOutItem(item)
		if err := tx.UpdateOutgoing(it); err != nil {
			return err
		}
	}
	return nil
}

// post sends a sealed envelope to peer's device: with a delivery token on
// an anonymous connection if the client has a key of peer's, else (or when
// the user chose so for this item: asRequest) as a sealed request on the
// authenticated connection. A refused token is handled as the comment at
// the top says.
func (c *Core) post(ctx context.Context, cn *conn.Conn, pool *anonPool, peer string, dev uint32, env []byte, asRequest bool) error {
	k, err := c.peerKey(peer)
	if err != nil {
		return err
	}
	if peer == c.acct.ID {
		k = peerKey{key: c.AccessKey()} // the account's other devices: its own token
	}
	if k.key != nil && !asRequest {
		ac, err := pool.get(ctx, peer)
		if err != nil {
			return &errRetry{err: err, wait: retryAfter}
		}
		token := deliveryToken(k.key)
		_, err = ac.Call(ctx, &wire.Request{Op: &wire.Request_Send{Send: &wire.Send{Account: peer, Device: dev, Content: env, DeliveryToken: token}}})
		uploaded.Add(int64(len(env) + len(token)))
		switch {
		case err == nil && (k.refsed || k.asked):
			return c.Update(func(tx *store.Tx) error { return forgetAsking(tx, peer) })
		case !errors.Is(err, wire.ErrTokenRejected):
			return err
		case k.own:
			return c.refused(ctx, peer, k)
		}
		// A relayed key: only a member's word, forgotten.
		if err := c.Update(func(tx *store.Tx) error { return tx.DeleteSetting(setSharedAccess + peer) }); err != nil {
			return err
		}
	}
	_, err = cn.Call(ctx, &wire.Request{Op: &wire.Request_Send{Send: &wire.Send{Account: peer, Device: dev, Content: env, Sealed: true}}})
	return err
}

// refused records that the server refused the token of peer's own key k,
// tells the user the first time, asks peer end to end for their current
// key (once per refused key; not when peer confirmed this very key), and
// returns the error that holds peer's messages back.
func (c *Core) refused(ctx context.Context, peer string, k peerKey) error {
	var confirmed, stale bool
	err := c.Update(func(tx *store.Tx) (err error) {
		// A key that arrived while this token was on its way makes
		// the refusal old news: the next pass uses the new key.
		cur, err := Setting(tx, setPeerAccess+peer)
		if stale = string(cur) != string(k.key); err != nil || stale {
			return err
		}
		if confirmed, err = confirmedRefused(tx, peer, k.key); err != nil || k.refsed {
			return err
		}
		return tx.SetSetting(setRefused+peer, k.key)
	})
	if err != nil {
		return err
	}
	if stale {
		return &errRetry{err: wire.ErrTokenRejected, wait: 10 * time.Millisecond}
	}
	if !k.refsed {
		c.Emit(&AccessRefusedEvent{Peer: peer, Confirmed: confirmed})
	}
	refusal := &AccessRefusedError{Peer: peer, Confirmed: confirmed}
	if !confirmed {
		c.askAccess(ctx, peer, k.key)
		// The answer may have come while asking: then try again at once
		// rather than hold the messages on a refusal that has ended.
		if now, err := c.peerKey(peer); err == nil && (!now.refsed || string(now.key) != string(k.key)) {
			return &errRetry{err: refusal, wait: 10 * time.Millisecond}
		}
	}
	return refusal
}

// SharedAccessKey returns the access key of peer a group member relayed
// (nil if none).
func SharedAccessKey(tx *store.Tx, peer string) ([]byte, error) {
	return Setting(tx, setSharedAccess+peer)
}
