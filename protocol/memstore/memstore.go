// Package memstore keeps all of a device's protocol state in memory: its
// identity, its prekeys, the identity keys of its peers and its session
// records. Tests and the interop test peer use it; it also shows what a
// durable store must do.
//
// Records are kept encoded, exactly as a durable store would keep them, so
// every load returns a fresh copy and Snapshot can compare whole stores
// byte for byte.
package memstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/prekey"
)

// Store is an in-memory implementation of every protocol store. It is safe
// for concurrent use.
type Store struct {
	// TrustAll makes every identity key trusted, and SaveIdentity replace
	// a recorded key. Only the interop test peer sets it; the default is
	// trust on first use.
	TrustAll bool

	mu         sync.Mutex
	identity   identity.KeyPair
	regID      uint32
	identities map[protocol.Address]curve.PublicKey
	preKeys    map[uint32][]byte
	signed     map[uint32][]byte
	kyber      map[uint32][]byte
	kyberSeen  map[[2]uint32][]curve.PublicKey // (Kyber ID, signed prekey ID) -> base keys
	sessions   map[protocol.Address][]byte
	scratch    []byte // where StoreSession encodes a record before keeping it
}

// New returns an empty store for a device with the given identity.
func New(ik identity.KeyPair, registrationID uint32) *Store {
	return &Store{
		identity:   ik,
		regID:      registrationID,
		identities: map[protocol.Address]curve.PublicKey{},
		preKeys:    map[uint32][]byte{},
		signed:     map[uint32][]byte{},
		kyber:      map[uint32][]byte{},
		kyberSeen:  map[[2]uint32][]curve.PublicKey{},
		sessions:   map[protocol.Address][]byte{},
	}
}

// Stores returns s as every store a session needs.
func (s *Store) Stores() protocol.Stores {
	return protocol.Stores{Identities: s, Sessions: s, PreKeys: s, SignedPreKeys: s, KyberPreKeys: s}
}

// IdentityKeyPair returns the device's identity.
func (s *Store) IdentityKeyPair(context.Context) (identity.KeyPair, error) { return s.identity, nil }

// LocalRegistrationID returns the device's registration ID.
func (s *Store) LocalRegistrationID(context.Context) (uint32, error) { return s.regID, nil }

// IsTrustedIdentity applies trust on first use (or trusts all, see TrustAll).
func (s *Store) IsTrustedIdentity(_ context.Context, addr protocol.Address, key curve.PublicKey, _ protocol.Direction) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	known, ok := s.identities[addr]
	return s.TrustAll || !ok || known == key, nil
}

// SaveIdentity records key for addr. Without TrustAll it never replaces a
// different recorded key (that takes AcceptIdentity).
func (s *Store) SaveIdentity(_ context.Context, addr protocol.Address, key curve.PublicKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if known, ok := s.identities[addr]; ok && known != key && !s.TrustAll {
		return errs.Newf(errs.UntrustedIdentity, "identity key of %s changed", addr)
	}
	s.identities[addr] = key
	return nil
}

// Identity returns the recorded identity key of addr.
func (s *Store) Identity(addr protocol.Address) (curve.PublicKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.identities[addr]
	return k, ok
}

// AcceptIdentity records key for addr, replacing any earlier key: the
// user's decision after comparing safety numbers.
func (s *Store) AcceptIdentity(addr protocol.Address, key curve.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.identities[addr] = key
}

// StorePreKey keeps a one-time prekey.
func (s *Store) StorePreKey(k prekey.PreKey) {
	b, _ := k.MarshalBinary()
	s.put(s.preKeys, k.ID, b)
}

// StoreSignedPreKey keeps a signed prekey.
func (s *Store) StoreSignedPreKey(k prekey.SignedPreKey) {
	b, _ := k.MarshalBinary()
	s.put(s.signed, k.ID, b)
}

// StoreKyberPreKey keeps a Kyber prekey.
func (s *Store) StoreKyberPreKey(k prekey.KyberPreKey) {
	b, _ := k.MarshalBinary()
	s.put(s.kyber, k.ID, b)
}

func (s *Store) put(m map[uint32][]byte, id uint32, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m[id] = b
}

func (s *Store) get(m map[uint32][]byte, id uint32) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := m[id]
	return b, ok
}

// LoadPreKey returns a one-time prekey.
func (s *Store) LoadPreKey(_ context.Context, id uint32) (prekey.PreKey, bool, error) {
	b, ok := s.get(s.preKeys, id)
	if !ok {
		return prekey.PreKey{}, false, nil
	}
	k, err := prekey.ParsePreKey(b)
	return k, err == nil, err
}

// RemovePreKey deletes a one-time prekey.
func (s *Store) RemovePreKey(_ context.Context, id uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.preKeys, id)
	return nil
}

// PreKeyCount returns how many one-time prekeys are left.
func (s *Store) PreKeyCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.preKeys)
}

// LoadSignedPreKey returns a signed prekey.
func (s *Store) LoadSignedPreKey(_ context.Context, id uint32) (prekey.SignedPreKey, bool, error) {
	b, ok := s.get(s.signed, id)
	if !ok {
		return prekey.SignedPreKey{}, false, nil
	}
	k, err := prekey.ParseSignedPreKey(b)
	return k, err == nil, err
}

// LoadKyberPreKey returns a Kyber prekey.
func (s *Store) LoadKyberPreKey(_ context.Context, id uint32) (prekey.KyberPreKey, bool, error) {
	b, ok := s.get(s.kyber, id)
	if !ok {
		return prekey.KyberPreKey{}, false, nil
	}
	k, err := prekey.ParseKyberPreKey(b)
	return k, err == nil, err
}

// MarkKyberPreKeyUsed deletes a one-time Kyber prekey; for a last-resort
// key it records the base key and refuses one seen before.
func (s *Store) MarkKyberPreKeyUsed(_ context.Context, id, signedPreKeyID uint32, baseKey curve.PublicKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.kyber[id]
	if !ok {
		return nil
	}
	lastResort, err := prekey.KyberPreKeyLastResort(b)
	if err != nil {
		return err
	}
	if !lastResort {
		delete(s.kyber, id)
		return nil
	}
	slot := [2]uint32{id, signedPreKeyID}
	if slices.Contains(s.kyberSeen[slot], baseKey) {
		return errs.New(errs.InvalidMessage, "base key reused with a last-resort Kyber prekey (replayed first message)")
	}
	s.kyberSeen[slot] = append(s.kyberSeen[slot], baseKey)
	return nil
}

// LoadSession returns a fresh copy of the record of addr, or nil.
func (s *Store) LoadSession(_ context.Context, addr protocol.Address) (*protocol.SessionRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock() // StoreSession rewrites records in place
	b, ok := s.sessions[addr]
	if !ok {
		return nil, nil
	}
	return protocol.ParseSessionRecord(b)
}

// StoreSession keeps the record of addr. As a durable store overwrites a
// row, it rewrites the earlier encoding in place when it fits (a record
// changes size little from one message to the next), and only once the new
// encoding is complete: a record that fails to encode leaves the stored one
// as it was.
func (s *Store) StoreSession(_ context.Context, addr protocol.Address, r *protocol.SessionRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := r.AppendBinary(s.scratch[:0])
	if err != nil {
		return err
	}
	old := s.sessions[addr]
	if cap(old) >= len(b) {
		clear(old[len(b):cap(old)]) // a shorter record leaves no old key bytes behind
		old = old[:len(b)]
		copy(old, b)
	} else {
		clear(old)
		// Room to grow: a record gains a few bytes now and then (counters,
		// skipped keys, SPQR chunks).
		old = append(make([]byte, 0, len(b)+len(b)/8+64), b...)
	}
	clear(b)
	s.scratch = b[:0]
	s.sessions[addr] = old
	return nil
}

// DeleteSession forgets the record of addr.
func (s *Store) DeleteSession(addr protocol.Address) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, addr)
}

// Snapshot returns every record of the store, encoded in a fixed order, so
// that two snapshots are equal exactly when the stores hold the same state.
func (s *Store) Snapshot() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out bytes.Buffer
	section := func(name string, keys []string, val func(string) []byte) {
		slices.Sort(keys)
		out.WriteString(name)
		for _, k := range keys {
			v := val(k)
			out.Write(binary.AppendUvarint(nil, uint64(len(k))))
			out.WriteString(k)
			out.Write(binary.AppendUvarint(nil, uint64(len(v))))
			out.Write(v)
		}
	}
	ids := func(m map[uint32][]byte) {
		var keys []string
		byKey := map[string][]byte{}
		for id, v := range m {
			k := string(binary.BigEndian.AppendUint32(nil, id))
			keys = append(keys, k)
			byKey[k] = v
		}
		section("|ids", keys, func(k string) []byte { return byKey[k] })
	}
	ids(s.preKeys)
	ids(s.signed)
	ids(s.kyber)
	var keys []string
	idents := map[string][]byte{}
	sess := map[string][]byte{}
	for a, k := range s.identities {
		keys = append(keys, a.String())
		idents[a.String()] = k.Bytes()
	}
	section("|identities", keys, func(k string) []byte { return idents[k] })
	keys = nil
	for a, b := range s.sessions {
		keys = append(keys, a.String())
		sess[a.String()] = b
	}
	section("|sessions", keys, func(k string) []byte { return sess[k] })
	keys = nil
	seen := map[string][]byte{}
	for slot, bases := range s.kyberSeen {
		k := string(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, slot[0]), slot[1]))
		keys = append(keys, k)
		var v []byte
		for _, b := range bases {
			v = b.AppendBytes(v)
		}
		seen[k] = v
	}
	section("|kyberSeen", keys, func(k string) []byte { return seen[k] })
	return out.Bytes()
}

// Format redacts the store (it holds the identity key) under every fmt verb.
func (s *Store) Format(f fmt.State, _ rune) { fmt.Fprint(f, "<memstore.Store: redacted>") }

// Clone returns an independent copy of s (records are immutable byte
// strings, so the copy shares them).
func (s *Store) Clone() *Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := New(s.identity, s.regID)
	c.TrustAll = s.TrustAll
	for k, v := range s.identities {
		c.identities[k] = v
	}
	for _, m := range [][2]map[uint32][]byte{{s.preKeys, c.preKeys}, {s.signed, c.signed}, {s.kyber, c.kyber}} {
		for k, v := range m[0] {
			m[1][k] = v
		}
	}
	for k, v := range s.kyberSeen {
		c.kyberSeen[k] = append([]curve.PublicKey(nil), v...)
	}
	for k, v := range s.sessions {
		c.sessions[k] = bytes.Clone(v) // rewritten in place by StoreSession
	}
	return c
}
