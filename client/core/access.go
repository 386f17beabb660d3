package core

import (
	"context"
	"errors"
	"fmt"

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
// token is tried again at the next connection. The peer's next message
// brings their current key (a genuine rotation: they removed the user as a
// contact) and sending resumes; or the user chooses to send as a message
// request (SendAsRequest), naming themselves to the server for that peer.
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
// the peer's next message brings a current key, the server accepts the
// token again, or the user chooses SendAsRequest.
type AccessRefusedEvent struct{ Peer string }

func (*AccessRefusedEvent) event() {}

// AccessRefusedError says why messages to a peer wait: the server refused
// their delivery token. errors.Is(err, ErrAccessRefused) is true.
type AccessRefusedError struct{ Peer string }

// ErrAccessRefused matches every *AccessRefusedError.
var ErrAccessRefused = errors.New("the server refused a contact's delivery token")

func (e *AccessRefusedError) Error() string {
	return fmt.Sprintf("the server refused the delivery token of %s, so your messages to them wait: either they removed you as a contact, "+
		"or the server is trying to learn who writes to them. They go out when %s writes to you again; you can also send them now "+
		"as a message request, which tells the server that you write to %s (Client.SendAsRequest)", e.Peer, e.Peer, e.Peer)
}

// Is makes errors.Is(err, ErrAccessRefused) true.
func (e *AccessRefusedError) Is(target error) bool { return target == ErrAccessRefused }

// peerKey is how the client may send to a peer without naming itself.
type peerKey struct {
	key    []byte // nil: no key, send as a sealed request
	own    bool   // the peer gave it (else a group member relayed it)
	refsed bool   // the server refused this own key before
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
		return peerKey{key: own, own: true, refsed: string(refused) == string(own)}, err
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
	for _, s := range []string{setPeerAccess, setSharedAccess, setRefused} {
		if err := tx.DeleteSetting(s + peer); err != nil {
			return err
		}
	}
	return nil
}

// SendAsRequest lets the messages waiting for peer after a refused delivery
// token go as sealed message requests on the user's own connection — the
// server then learns that the user writes to peer — by forgetting peer's
// access key, as if they had never written. Their next message brings it
// back.
func (c *Core) SendAsRequest(peer string) error {
	if err := c.CheckPeer(peer); err != nil {
		return err
	}
	err := c.Update(func(tx *store.Tx) error {
		refused, err := Setting(tx, setRefused+peer)
		if err != nil {
			return err
		}
		if refused == nil {
			return fmt.Errorf("%w: the server refused no delivery token of %s", ErrNotFound, peer)
		}
		return forgetAccess(tx, peer)
	})
	if err != nil {
		return err
	}
	c.Unblock(peer)
	c.KickOutbox()
	c.Notify()
	return nil
}

// post sends a sealed envelope to peer's device: with a delivery token on
// an anonymous connection if the client has a key of peer's, else as a
// sealed request on the authenticated connection. A refused token is
// handled as the comment at the top says.
func (c *Core) post(ctx context.Context, cn *conn.Conn, pool *anonPool, peer string, dev uint32, env []byte) error {
	k, err := c.peerKey(peer)
	if err != nil {
		return err
	}
	if k.key != nil {
		ac, err := pool.get(ctx, peer)
		if err != nil {
			return &errRetry{err: err, wait: retryAfter}
		}
		token := deliveryToken(k.key)
		_, err = ac.Call(ctx, &wire.Request{Op: &wire.Request_Send{Send: &wire.Send{Account: peer, Device: dev, Content: env, DeliveryToken: token}}})
		uploaded.Add(int64(len(env) + len(token)))
		switch {
		case err == nil && k.refsed:
			return c.Update(func(tx *store.Tx) error { return tx.DeleteSetting(setRefused + peer) })
		case !errors.Is(err, wire.ErrTokenRejected):
			return err
		case k.own:
			return c.refused(peer, k)
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
// tells the user the first time, and returns the error that holds peer's
// messages back.
func (c *Core) refused(peer string, k peerKey) error {
	if !k.refsed {
		if err := c.Update(func(tx *store.Tx) error { return tx.SetSetting(setRefused+peer, k.key) }); err != nil {
			return err
		}
		c.Emit(&AccessRefusedEvent{Peer: peer})
	}
	return &AccessRefusedError{Peer: peer}
}

// SharedAccessKey returns the access key of peer a group member relayed
// (nil if none).
func SharedAccessKey(tx *store.Tx, peer string) ([]byte, error) {
	return Setting(tx, setSharedAccess+peer)
}
