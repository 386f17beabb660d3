package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/skymsg/sky/client/protostore"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/fingerprint"
	"github.com/skymsg/sky/wire"
)

// Verification. A peer's identity key is pinned the first time it is seen.
// Safety numbers (60 digits, computed as libsignal computes them, with the
// Sky IDs as identifiers) and their QR form let two people check that no one
// sits between them. A different key later — in a bundle the server hands
// out, or in a first message — is never used: it is recorded as a pending
// change, the user is told (IdentityChangedEvent, IdentityChangedError),
// and nothing goes to the peer until the user accepts the new key with
// Verify after comparing the new safety number.

// SafetyNumber is what the user compares with a peer.
type SafetyNumber struct {
	Peer string
	// Digits is the 60-digit safety number, the same on both sides; groups
	// of five are how people read it out.
	Digits string
	// Scannable is the content of the QR code the peer scans
	// (CompareScanned checks what was scanned from theirs).
	Scannable []byte
	// Verified says the user confirmed the pinned key.
	Verified bool
	// Changed says the peer presented a new key that waits for the user's
	// decision; Digits and Scannable are then those of the new key.
	Changed bool
}

// Groups returns the digits in twelve groups of five.
func (s SafetyNumber) Groups() []string {
	var out []string
	for i := 0; i+5 <= len(s.Digits); i += 5 {
		out = append(out, s.Digits[i:i+5])
	}
	return out
}

// pendingIdentity is a key a peer presented that differs from the pinned one.
type pendingIdentity struct {
	Device uint32
	Key    []byte
	At     time.Time
}

func loadPending(tx *store.Tx, peer string) (*pendingIdentity, error) {
	f, err := settingFields(tx, setPending+peer)
	if err != nil || f.one(2) == nil {
		return nil, err
	}
	return &pendingIdentity{Device: uint32(f.nums[1]), Key: f.one(2), At: time.Unix(0, int64(f.nums[3]))}, nil
}

// peerIdentity returns the pinned identity of peer's first device with one.
func peerIdentity(tx *store.Tx, peer string) (store.Address, store.PeerIdentity, error) {
	devs, err := tx.SessionDevices(peer)
	if err != nil {
		return store.Address{}, store.PeerIdentity{}, err
	}
	for _, d := range append([]uint32{1}, devs...) {
		addr := store.Address{Name: peer, Device: d}
		p, err := tx.PeerIdentity(addr)
		if err == nil {
			return addr, p, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return addr, p, err
		}
	}
	return store.Address{}, store.PeerIdentity{}, store.ErrNotFound
}

// recordChanged records a key peer's device presented that is not the
// pinned one, and returns the event to announce (nil if already known).
func (c *Client) recordChanged(tx *store.Tx, peer string, dev uint32, key []byte, now time.Time) (Event, error) {
	old, err := loadPending(tx, peer)
	if err != nil {
		return nil, err
	}
	if old != nil && bytes.Equal(old.Key, key) {
		return nil, nil
	}
	_, pinned, err := peerIdentity(tx, peer)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	rec := putBytes(putNum(nil, 1, uint64(dev)), 2, key)
	if err := tx.SetSetting(setPending+peer, putNum(rec, 3, uint64(now.UnixNano()))); err != nil {
		return nil, err
	}
	return &IdentityChangedEvent{Peer: peer, Verified: pinned.Verified}, nil
}

// refuseChanged fails while peer's key change waits for the user.
func (c *Client) refuseChanged(tx *store.Tx, peer string) error {
	p, err := loadPending(tx, peer)
	if err != nil || p == nil {
		return err
	}
	_, pinned, err := peerIdentity(tx, peer)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return &IdentityChangedError{Peer: peer, Verified: pinned.Verified}
}

// SafetyNumber returns the safety number of the user and peer. It fails with
// ErrNotFound when no key of peer is known yet (exchange a message first).
func (c *Client) SafetyNumber(peer string) (SafetyNumber, error) {
	if err := c.checkPeer(peer); err != nil {
		return SafetyNumber{}, err
	}
	out := SafetyNumber{Peer: peer}
	var key []byte
	err := c.view(func(tx *store.Tx) error {
		_, pinned, err := peerIdentity(tx, peer)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		key, out.Verified = pinned.Key, pinned.Verified
		p, err := loadPending(tx, peer)
		if err != nil {
			return err
		}
		if p != nil {
			key, out.Changed, out.Verified = p.Key, true, false
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	if key == nil {
		return out, fmt.Errorf("%w: no identity key of %s is known yet; send them a message (or receive one) first", ErrNotFound, peer)
	}
	fp, err := c.fingerprint(peer, key)
	if err != nil {
		return out, err
	}
	out.Digits, out.Scannable = fp.Displayable, fp.Scannable
	return out, nil
}

// fingerprint computes the safety number of the user and peer's key.
func (c *Client) fingerprint(peer string, key []byte) (fingerprint.Fingerprint, error) {
	theirs, err := curve.ParsePublicKey(key)
	if err != nil {
		return fingerprint.Fingerprint{}, fmt.Errorf("%w: a pinned identity key does not parse", store.ErrCorrupt)
	}
	return fingerprint.New(fingerprint.Version, fingerprint.Iterations, []byte(c.acct.ID), c.local.KeyPair.Public, []byte(peer), theirs)
}

// ErrSafetyNumberChanged: Verify was given a safety number that is not the
// current one of the user and the peer.
var ErrSafetyNumberChanged = errors.New("that is not the current safety number (their key may have changed since you compared it, " +
	"or the number was mistyped), so nothing was marked verified: show the safety number again (sky verify ID) and compare the number shown now")

// sameNumber reports whether number, as the user gave it (spaces, tabs and
// dashes between the digits allowed), is digits.
func sameNumber(number, digits string) bool {
	n := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '-' {
			return -1
		}
		return r
	}, number)
	return n == digits
}

// CompareScanned reports whether scanned, the content of the QR code on the
// peer's screen, matches the safety number of the user and peer.
func (c *Client) CompareScanned(peer string, scanned []byte) (bool, error) {
	sn, err := c.SafetyNumber(peer)
	if err != nil {
		return false, err
	}
	return fingerprint.Compare(sn.Scannable, scanned)
}

// Verify records that the user compared safety numbers with peer and they
// matched: number is the safety number the user compared (SafetyNumber's
// Digits, or the digits as read out; spaces and dashes are ignored). The key
// that number belongs to is marked verified. If peer presented a new key,
// that key replaces the pinned one (verified), the old session is archived,
// queued messages to peer go out again, and messages that arrived with the
// new key are read now.
//
// The number binds the decision to the key the user saw: if the key waiting
// for a decision changed after the user read its number (a server can
// present a new one at any moment), Verify fails with
// ErrSafetyNumberChanged and changes nothing.
func (c *Client) Verify(ctx context.Context, peer, number string) error {
	if err := c.checkPeer(peer); err != nil {
		return err
	}
	var held [][]byte
	err := c.update(func(tx *store.Tx) error {
		p, err := loadPending(tx, peer)
		if err != nil {
			return err
		}
		now := c.now()
		if p == nil {
			addr, pinned, err := peerIdentity(tx, peer)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%w: no identity key of %s is known yet; send them a message (or receive one) first", ErrNotFound, peer)
			}
			if err != nil {
				return err
			}
			if err := c.checkNumber(peer, pinned.Key, number); err != nil {
				return err
			}
			pinned.Verified = true
			return tx.PutPeerIdentity(addr, pinned)
		}
		if err := c.checkNumber(peer, p.Key, number); err != nil {
			return err
		}
		addr := store.Address{Name: peer, Device: p.Device}
		if err := tx.PutPeerIdentity(addr, store.PeerIdentity{Key: p.Key, Verified: true, FirstSeen: now}); err != nil {
			return err
		}
		ps := protostore.New(tx, c.local, now)
		if err := protocol.ArchiveSession(ctx, ps, protocol.Address{Name: peer, DeviceID: p.Device}); err != nil {
			return err
		}
		if err := ps.Commit(); err != nil {
			return err
		}
		f, err := settingFields(tx, setHeldEnv+peer)
		if err != nil {
			return err
		}
		held = f.bytes[1]
		if err := tx.DeleteSetting(setHeldEnv + peer); err != nil {
			return err
		}
		return tx.DeleteSetting(setPending + peer)
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.blocked, peer)
	c.mu.Unlock()
	if len(held) > 0 {
		var envs []*wire.Envelope
		for _, raw := range held {
			e := new(wire.Envelope)
			if proto.Unmarshal(raw, e) == nil {
				envs = append(envs, e)
			}
		}
		b, err := c.receive(ctx, envs)
		if err != nil {
			return err
		}
		c.afterBatch(b)
	}
	poke(c.kick)
	c.notify()
	return nil
}

// checkNumber fails with ErrSafetyNumberChanged unless number is the safety
// number of the user and peer's key.
func (c *Client) checkNumber(peer string, key []byte, number string) error {
	fp, err := c.fingerprint(peer, key)
	if err != nil {
		return err
	}
	if !sameNumber(number, fp.Displayable) {
		return ErrSafetyNumberChanged
	}
	return nil
}

// KeepIdentity refuses peer's new identity key and keeps the pinned one:
// use it when the safety numbers of the new key did not match (someone other
// than peer presented it). The messages that came with the new key are
// destroyed unread, and sending to peer's pinned key resumes.
func (c *Client) KeepIdentity(peer string) error {
	if err := c.checkPeer(peer); err != nil {
		return err
	}
	err := c.update(func(tx *store.Tx) error {
		p, err := loadPending(tx, peer)
		if err != nil {
			return err
		}
		if p == nil {
			return fmt.Errorf("%w: %s presented no new key", ErrNotFound, peer)
		}
		if err := tx.DeleteSetting(setHeldEnv + peer); err != nil {
			return err
		}
		return tx.DeleteSetting(setPending + peer)
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.blocked, peer)
	c.mu.Unlock()
	poke(c.kick)
	c.notify()
	return nil
}

// ContactURI is what the user's QR code holds for others to add them:
// "sky:" and the Sky ID.
func (c *Client) ContactURI() string { return "sky:" + c.acct.ID }
