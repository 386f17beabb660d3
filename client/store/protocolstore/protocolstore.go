// Package protocolstore backs the protocol core's store interfaces
// (protocol.Stores: identity, sessions, prekeys) with the encrypted client
// store.
//
// It works inside one store transaction, so that the session a decryption
// advances, the prekey it consumes, the dedupe entry and the message it
// yields are saved together or not at all:
//
//	err := st.Update(func(tx *store.Tx) error {
//		ps := protocolstore.New(tx, now)
//		pt, err := protocol.Decrypt(ctx, ps.Stores(), local, remote, ciphertext)
//		...
//		return tx.AddMessage(&msg)
//	})
//
// Records are kept in the protocol core's own encodings. Trust is trust on
// first use: a recorded identity key is never replaced by the protocol;
// AcceptIdentity records the user's decision.
package protocolstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/prekey"
)

// Stores implements every interface of protocol.Stores over one store
// transaction. It must not outlive the transaction.
type Stores struct {
	tx  *store.Tx
	now time.Time
}

// New returns the protocol stores of tx. now is recorded as the time a
// peer's identity key was first seen.
func New(tx *store.Tx, now time.Time) *Stores { return &Stores{tx: tx, now: now} }

// Stores returns s as the set the protocol core takes.
func (s *Stores) Stores() protocol.Stores {
	return protocol.Stores{Identities: s, Sessions: s, PreKeys: s, SignedPreKeys: s, KyberPreKeys: s}
}

func addr(a protocol.Address) store.Address { return store.Address{Name: a.Name, Device: a.DeviceID} }

// state marks a stored record the protocol cannot decode.
func state(what string, err error) error {
	return fmt.Errorf("%w: stored %s: %w", protocol.ErrInvalidState, what, err)
}

// SetIdentity records the device's own identity key pair and registration ID.
func SetIdentity(tx *store.Tx, kp identity.KeyPair, registrationID uint32) error {
	b, err := kp.MarshalBinary()
	if err != nil {
		return err
	}
	defer clear(b)
	return tx.SetLocalIdentity(store.LocalIdentity{KeyPair: b, RegistrationID: registrationID})
}

// IdentityKeyPair returns the device's identity.
func (s *Stores) IdentityKeyPair(context.Context) (identity.KeyPair, error) {
	l, err := s.tx.LocalIdentity()
	if err != nil {
		return identity.KeyPair{}, err
	}
	defer l.KeyPair.Zero()
	kp, err := identity.Parse(l.KeyPair)
	if err != nil {
		return identity.KeyPair{}, state("identity key pair", err)
	}
	return kp, nil
}

// LocalRegistrationID returns the device's registration ID.
func (s *Stores) LocalRegistrationID(context.Context) (uint32, error) {
	l, err := s.tx.LocalIdentity()
	if err != nil {
		return 0, err
	}
	l.KeyPair.Zero()
	return l.RegistrationID, nil
}

// IsTrustedIdentity trusts a key for an address with none recorded, and the
// recorded key; any other key is untrusted until AcceptIdentity.
func (s *Stores) IsTrustedIdentity(_ context.Context, a protocol.Address, key curve.PublicKey, _ protocol.Direction) (bool, error) {
	p, err := s.tx.PeerIdentity(addr(a))
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return bytes.Equal(p.Key, key.Bytes()), nil
}

// SaveIdentity pins key for a; it refuses to replace a different pinned key.
func (s *Stores) SaveIdentity(_ context.Context, a protocol.Address, key curve.PublicKey) error {
	p, err := s.tx.PeerIdentity(addr(a))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return s.tx.PutPeerIdentity(addr(a), store.PeerIdentity{Key: key.Bytes(), FirstSeen: s.now})
	case err != nil:
		return err
	case !bytes.Equal(p.Key, key.Bytes()):
		return fmt.Errorf("%w: the identity key of %s changed; compare safety numbers and accept the new key", protocol.ErrUntrustedIdentity, a)
	}
	return nil
}

// AcceptIdentity records key for a, replacing any earlier key: the user's
// decision after comparing safety numbers. verified says whether the user
// verified the new key.
func AcceptIdentity(tx *store.Tx, a protocol.Address, key curve.PublicKey, verified bool, now time.Time) error {
	return tx.PutPeerIdentity(addr(a), store.PeerIdentity{Key: key.Bytes(), Verified: verified, FirstSeen: now})
}

// StorePreKey keeps a one-time EC prekey.
func StorePreKey(tx *store.Tx, k prekey.PreKey) error {
	return put(tx, store.OneTimePreKey, k.ID, k.MarshalBinary)
}

// StoreSignedPreKey keeps a signed EC prekey.
func StoreSignedPreKey(tx *store.Tx, k prekey.SignedPreKey) error {
	return put(tx, store.SignedPreKey, k.ID, k.MarshalBinary)
}

// StoreKyberPreKey keeps a Kyber prekey (one-time or last resort).
func StoreKyberPreKey(tx *store.Tx, k prekey.KyberPreKey) error {
	return put(tx, store.KyberPreKey, k.ID, k.MarshalBinary)
}

func put(tx *store.Tx, kind store.PreKeyKind, id uint32, marshal func() ([]byte, error)) error {
	b, err := marshal()
	if err != nil {
		return err
	}
	defer clear(b)
	return tx.PutPreKey(kind, id, b)
}

// load fetches and decodes a prekey; found is false when there is none.
func load[K any](tx *store.Tx, kind store.PreKeyKind, id uint32, parse func([]byte) (K, error)) (K, bool, error) {
	var zero K
	b, err := tx.PreKey(kind, id)
	if errors.Is(err, store.ErrNotFound) {
		return zero, false, nil
	}
	if err != nil {
		return zero, false, err
	}
	defer b.Zero()
	k, err := parse(b)
	if err != nil {
		return zero, false, state("prekey", err)
	}
	return k, true, nil
}

// LoadPreKey returns one-time prekey id.
func (s *Stores) LoadPreKey(_ context.Context, id uint32) (prekey.PreKey, bool, error) {
	return load(s.tx, store.OneTimePreKey, id, prekey.ParsePreKey)
}

// RemovePreKey deletes one-time prekey id after its use.
func (s *Stores) RemovePreKey(_ context.Context, id uint32) error {
	return s.tx.DeletePreKey(store.OneTimePreKey, id)
}

// LoadSignedPreKey returns signed prekey id.
func (s *Stores) LoadSignedPreKey(_ context.Context, id uint32) (prekey.SignedPreKey, bool, error) {
	return load(s.tx, store.SignedPreKey, id, prekey.ParseSignedPreKey)
}

// LoadKyberPreKey returns Kyber prekey id.
func (s *Stores) LoadKyberPreKey(_ context.Context, id uint32) (prekey.KyberPreKey, bool, error) {
	return load(s.tx, store.KyberPreKey, id, prekey.ParseKyberPreKey)
}

// MarkKyberPreKeyUsed deletes a one-time Kyber prekey; for a last-resort one
// it records the (signed prekey ID, base key) pair and refuses a pair seen
// before, which stops replays of old first messages.
func (s *Stores) MarkKyberPreKeyUsed(ctx context.Context, id, signedPreKeyID uint32, baseKey curve.PublicKey) error {
	k, found, err := s.LoadKyberPreKey(ctx, id)
	if err != nil || !found {
		return err
	}
	if !k.LastResort {
		return s.tx.DeletePreKey(store.KyberPreKey, id)
	}
	use := binary.BigEndian.AppendUint32(nil, signedPreKeyID)
	fresh, err := s.tx.MarkPreKeyUsed(store.KyberPreKey, id, append(use, baseKey.Bytes()...))
	if err != nil {
		return err
	}
	if !fresh {
		return fmt.Errorf("%w: base key reused with a last-resort Kyber prekey (a replayed first message)", protocol.ErrInvalidMessage)
	}
	return nil
}

// LoadSession returns the session record of a, or nil if there is none.
func (s *Stores) LoadSession(_ context.Context, a protocol.Address) (*protocol.SessionRecord, error) {
	b, err := s.tx.Session(addr(a))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer b.Zero()
	r, err := protocol.ParseSessionRecord(b)
	if err != nil {
		return nil, state("session", err)
	}
	return r, nil
}

// StoreSession saves the session record of a.
func (s *Stores) StoreSession(_ context.Context, a protocol.Address, r *protocol.SessionRecord) error {
	b, err := r.MarshalBinary()
	if err != nil {
		return err
	}
	defer clear(b)
	return s.tx.PutSession(addr(a), b)
}

// String, GoString and Format: a Stores shows nothing of its transaction.
func (s *Stores) String() string                { return "protocolstore.Stores" }
func (s *Stores) GoString() string              { return s.String() }
func (s *Stores) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }

var (
	_ protocol.IdentityStore     = (*Stores)(nil)
	_ protocol.SessionStore      = (*Stores)(nil)
	_ protocol.PreKeyStore       = (*Stores)(nil)
	_ protocol.SignedPreKeyStore = (*Stores)(nil)
	_ protocol.KyberPreKeyStore  = (*Stores)(nil)
)
