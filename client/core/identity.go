package core

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/fingerprint"
)

// Identity keys. A peer's identity key is pinned the first time it is seen
// (package client/protostore). A different key later — in a bundle the
// server hands out, or in a first message — is never used: it is recorded
// here as a pending change, and nothing goes to the peer until the user
// decides (package client/trust: Verify or KeepIdentity).

// pendingIdentity is a key a peer presented that differs from the pinned one.
type pendingIdentity struct {
	Device uint32
	Key    []byte
	At     time.Time
}

func LoadPending(tx *store.Tx, peer string) (*pendingIdentity, error) {
	f, err := SettingFields(tx, setPending+peer)
	if err != nil || f.One(2) == nil {
		return nil, err
	}
	return &pendingIdentity{Device: uint32(f.Nums[1]), Key: f.One(2), At: time.Unix(0, int64(f.Nums[3]))}, nil
}

// peerIdentity returns the pinned identity of peer's first device with one.
func PeerIdentityOf(tx *store.Tx, peer string) (store.Address, store.PeerIdentity, error) {
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
func (c *Core) RecordChanged(tx *store.Tx, peer string, dev uint32, key []byte, now time.Time) (Event, error) {
	old, err := LoadPending(tx, peer)
	if err != nil {
		return nil, err
	}
	if old != nil && bytes.Equal(old.Key, key) {
		return nil, nil
	}
	_, pinned, err := PeerIdentityOf(tx, peer)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	rec := PutBytes(PutNum(nil, 1, uint64(dev)), 2, key)
	if err := tx.SetSetting(setPending+peer, PutNum(rec, 3, uint64(now.UnixNano()))); err != nil {
		return nil, err
	}
	return &IdentityChangedEvent{Peer: peer, Verified: pinned.Verified}, nil
}

// refuseChanged fails while peer's key change waits for the user.
func (c *Core) RefuseChanged(tx *store.Tx, peer string) error {
	p, err := LoadPending(tx, peer)
	if err != nil || p == nil {
		return err
	}
	_, pinned, err := PeerIdentityOf(tx, peer)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return &IdentityChangedError{Peer: peer, Verified: pinned.Verified}
}

// fingerprint computes the safety number of the user and peer's key.
func (c *Core) Fingerprint(peer string, key []byte) (fingerprint.Fingerprint, error) {
	theirs, err := curve.ParsePublicKey(key)
	if err != nil {
		return fingerprint.Fingerprint{}, fmt.Errorf("%w: a pinned identity key does not parse", store.ErrCorrupt)
	}
	return fingerprint.New(fingerprint.Version, fingerprint.Iterations, []byte(c.acct.ID), c.Local.KeyPair.Public, []byte(peer), theirs)
}

// ClearPending ends peer's key change (the user accepted or refused it).
func ClearPending(tx *store.Tx, peer string) error { return tx.DeleteSetting(setPending + peer) }

// Unblock lets the outbox try peer again (after the user's key decision).
func (c *Core) Unblock(peer string) {
	c.mu.Lock()
	delete(c.blocked, peer)
	if c.unblocks == nil {
		c.unblocks = map[string]uint64{}
	}
	c.unblocks[peer]++
	c.mu.Unlock()
}

// unblockEpoch counts the Unblocks of peer (see delivered).
func (c *Core) unblockEpoch(peer string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unblocks[peer]
}
