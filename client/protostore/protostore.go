// Package protostore backs the protocol core's stores (protocol.Stores:
// identities, sessions, prekeys) with the client's encrypted local store.
//
// A Stores works inside one store transaction and keeps the protocol's
// writes in memory until Commit, so the client can decrypt a message, check
// what it says (for example that the sender named inside matches the
// envelope), and only then keep the new session state, together with the
// message and its dedupe record, in the same transaction. Discarding a
// Stores leaves the transaction as it was, apart from recorded uses of
// last-resort prekeys (see MarkKyberPreKeyUsed).
//
// Trust is on first use: a peer device's first identity key is pinned, and
// any other key is untrusted until the user accepts it through the client
// (which replaces the pin). Nothing a server sends can replace a pin.
package protostore

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

// Local is the device's own identity, parsed once by the client.
type Local struct {
	KeyPair        identity.KeyPair
	RegistrationID uint32
}

// Stores implements every protocol store on a store.Tx, with writes held
// until Commit. It is used by one goroutine, within the transaction.
//
// The identity key pair and the held session records sit behind a pointer:
// fmt, given a verb a type does not support, prints the fields of the value
// one level deep and pointers there as addresses, so even a struct that holds
// a *Stores in an unexported field prints no key. Format covers the rest.
type Stores struct {
	tx  *store.Tx
	now time.Time
	*held
}

// held is what a Stores keeps in memory.
type held struct {
	local Local

	sessions   map[protocol.Address][]byte
	order      []protocol.Address // sessions in first-write order, for a deterministic Commit
	identities map[protocol.Address]curve.PublicKey
	deletes    []prekeyRef
	kyberUses  map[string]bool

	// trial, when set, trusts one unpinned key for one address and keeps
	// every effect in memory (see Trial).
	trial *trial

	// decoded remembers, per address, the last session record stored here,
	// with its encoding: a record loaded again whose stored bytes are
	// exactly those is handed out instead of parsed again (a push's
	// messages from one peer each load and store its session). Anything
	// else that changed the stored session makes the bytes differ, and the
	// record is parsed as usual.
	decoded map[protocol.Address]decodedRecord
}

type decodedRecord struct {
	enc []byte
	rec *protocol.SessionRecord
}

type trial struct {
	addr protocol.Address
	key  curve.PublicKey
}

type prekeyRef struct {
	kind store.PreKeyKind
	id   uint32
}

// New returns stores on tx for the device local; now is recorded as the
// first-seen time of newly pinned identities.
func New(tx *store.Tx, local Local, now time.Time) *Stores {
	return &Stores{tx: tx, now: now, held: &held{local: local,
		sessions: map[protocol.Address][]byte{}, identities: map[protocol.Address]curve.PublicKey{}, kyberUses: map[string]bool{}}}
}

// String, GoString and Format show only the type: no key, no session.
func (s Stores) String() string                { return "protostore.Stores" }
func (s Stores) GoString() string              { return s.String() }
func (s Stores) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }

// Protocol returns s as the protocol core's stores.
func (s *Stores) Protocol() protocol.Stores {
	return protocol.Stores{Identities: s, Sessions: s, PreKeys: s, SignedPreKeys: s, KyberPreKeys: s}
}

// Trial makes the next operation trust key for addr although another key is
// pinned, and record nothing outside memory (not even a last-resort prekey
// use): the caller decrypts a message made with a changed key to see what it
// claims, then must Discard. Commit refuses while a trial is set.
func (s *Stores) Trial(addr protocol.Address, key curve.PublicKey) {
	s.trial = &trial{addr: addr, key: key}
}

// Discard forgets the held writes and any trial; s may be used again.
func (s *Stores) Discard() {
	s.trial = nil
	clear(s.sessions)
	clear(s.identities)
	clear(s.kyberUses)
	s.order, s.deletes = s.order[:0], s.deletes[:0]
}

// ErrTrial is returned by Commit after Trial: a trial's effects are never
// kept.
var ErrTrial = errors.New("protostore: a trial decryption cannot be committed")

// Commit writes the held writes to the transaction and forgets them.
func (s *Stores) Commit() error {
	if s.trial != nil {
		s.Discard()
		return ErrTrial
	}
	for _, addr := range s.order {
		if rec, ok := s.sessions[addr]; ok {
			if err := s.tx.PutSession(storeAddr(addr), rec); err != nil {
				return err
			}
		}
	}
	for addr, key := range s.identities {
		if err := s.tx.PutPeerIdentity(storeAddr(addr), store.PeerIdentity{Key: key.Bytes(), FirstSeen: s.now}); err != nil {
			return err
		}
	}
	for _, d := range s.deletes {
		if err := s.tx.DeletePreKey(d.kind, d.id); err != nil {
			return err
		}
	}
	s.Discard()
	return nil
}

func storeAddr(a protocol.Address) store.Address {
	return store.Address{Name: a.Name, Device: a.DeviceID}
}

// PinnedIdentity returns the identity key pinned for addr (including a
// held pin), and whether there is one.
func (s *Stores) PinnedIdentity(addr protocol.Address) (curve.PublicKey, bool, error) {
	if k, ok := s.identities[addr]; ok {
		return k, true, nil
	}
	return Pinned(s.tx, addr)
}

// Pinned returns the identity key pinned for addr in tx.
func Pinned(tx *store.Tx, addr protocol.Address) (curve.PublicKey, bool, error) {
	p, err := tx.PeerIdentity(storeAddr(addr))
	if errors.Is(err, store.ErrNotFound) {
		return curve.PublicKey{}, false, nil
	}
	if err != nil {
		return curve.PublicKey{}, false, err
	}
	k, err := curve.ParsePublicKey(p.Key)
	if err != nil {
		return curve.PublicKey{}, false, fmt.Errorf("%w: a pinned identity key does not parse", store.ErrCorrupt)
	}
	return k, true, nil
}

// IdentityKeyPair returns the device's identity.
func (s *Stores) IdentityKeyPair(context.Context) (identity.KeyPair, error) {
	return s.local.KeyPair, nil
}

// LocalRegistrationID returns the device's registration ID.
func (s *Stores) LocalRegistrationID(context.Context) (uint32, error) {
	return s.local.RegistrationID, nil
}

// IsTrustedIdentity trusts a key on first use and afterwards only the pinned
// key, in both directions.
func (s *Stores) IsTrustedIdentity(_ context.Context, addr protocol.Address, key curve.PublicKey, _ protocol.Direction) (bool, error) {
	if s.trial != nil && s.trial.addr == addr && s.trial.key == key {
		return true, nil
	}
	pinned, ok, err := s.PinnedIdentity(addr)
	if err != nil || !ok {
		return err == nil, err
	}
	return pinned == key, nil
}

// SaveIdentity pins key for addr if nothing is pinned yet. It never
// replaces a different pinned key.
func (s *Stores) SaveIdentity(_ context.Context, addr protocol.Address, key curve.PublicKey) error {
	if s.trial != nil && s.trial.addr == addr && s.trial.key == key {
		return nil
	}
	pinned, ok, err := s.PinnedIdentity(addr)
	switch {
	case err != nil:
		return err
	case !ok:
		s.identities[addr] = key
	case pinned != key:
		return fmt.Errorf("%w: refusing to replace the pinned identity key of %s", protocol.ErrUntrustedIdentity, addr)
	}
	return nil
}

// LoadSession returns the record of addr, the caller's to change, or nil.
func (s *Stores) LoadSession(_ context.Context, addr protocol.Address) (*protocol.SessionRecord, error) {
	b, ok := s.sessions[addr]
	if !ok {
		rec, err := s.tx.PeekSession(storeAddr(addr)) // only compared or parsed here
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		b = rec
	}
	if d, ok := s.decoded[addr]; ok {
		// Handed over, not copied: the caller changes it, and stores it
		// again (then it is remembered again) or drops it.
		delete(s.decoded, addr)
		if bytes.Equal(d.enc, b) {
			return d.rec, nil
		}
	}
	return protocol.ParseSessionRecord(b)
}

// StoreSession holds the record of addr until Commit. The protocol hands r
// over for good (protocol.SessionStore), so it is remembered as it is, with
// its encoding, for the next LoadSession.
func (s *Stores) StoreSession(_ context.Context, addr protocol.Address, r *protocol.SessionRecord) error {
	b, err := r.MarshalBinary()
	if err != nil {
		return err
	}
	if s.decoded == nil {
		s.decoded = make(map[protocol.Address]decodedRecord)
	}
	s.decoded[addr] = decodedRecord{enc: b, rec: r} // b is never changed: see Commit
	if _, ok := s.sessions[addr]; !ok {
		s.order = append(s.order, addr)
	}
	s.sessions[addr] = b
	return nil
}

func (s *Stores) deleted(kind store.PreKeyKind, id uint32) bool {
	for _, d := range s.deletes {
		if d.kind == kind && d.id == id {
			return true
		}
	}
	return false
}

func (s *Stores) record(kind store.PreKeyKind, id uint32) ([]byte, bool, error) {
	if s.deleted(kind, id) {
		return nil, false, nil
	}
	b, err := s.tx.PreKey(kind, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	return b, err == nil, err
}

// LoadPreKey returns a one-time EC prekey.
func (s *Stores) LoadPreKey(_ context.Context, id uint32) (prekey.PreKey, bool, error) {
	b, ok, err := s.record(store.OneTimePreKey, id)
	if !ok {
		return prekey.PreKey{}, false, err
	}
	k, err := prekey.ParsePreKey(b)
	return k, err == nil, err
}

// RemovePreKey deletes a one-time EC prekey at Commit.
func (s *Stores) RemovePreKey(_ context.Context, id uint32) error {
	s.deletes = append(s.deletes, prekeyRef{store.OneTimePreKey, id})
	return nil
}

// LoadSignedPreKey returns a signed prekey.
func (s *Stores) LoadSignedPreKey(_ context.Context, id uint32) (prekey.SignedPreKey, bool, error) {
	b, ok, err := s.record(store.SignedPreKey, id)
	if !ok {
		return prekey.SignedPreKey{}, false, err
	}
	k, err := prekey.ParseSignedPreKey(b)
	return k, err == nil, err
}

// LoadKyberPreKey returns a Kyber prekey.
func (s *Stores) LoadKyberPreKey(_ context.Context, id uint32) (prekey.KyberPreKey, bool, error) {
	b, ok, err := s.record(store.KyberPreKey, id)
	if !ok {
		return prekey.KyberPreKey{}, false, err
	}
	k, err := prekey.ParseKyberPreKey(b)
	return k, err == nil, err
}

// MarkKyberPreKeyUsed deletes a one-time Kyber prekey at Commit. For a
// last-resort key it records the (signed prekey, base key) pair at once, in
// the transaction, and refuses a pair seen before: a replayed first message.
// The record is written even if this Stores is later discarded, which only
// makes a replay of a discarded message fail earlier.
func (s *Stores) MarkKyberPreKeyUsed(ctx context.Context, id, signedPreKeyID uint32, baseKey curve.PublicKey) error {
	k, ok, err := s.LoadKyberPreKey(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: Kyber prekey %d is not on this device", protocol.ErrInvalidKey, id)
	}
	if !k.LastResort {
		s.deletes = append(s.deletes, prekeyRef{store.KyberPreKey, id})
		return nil
	}
	use := binary.BigEndian.AppendUint32(nil, signedPreKeyID)
	use = append(use, baseKey.Bytes()...)
	key := string(binary.BigEndian.AppendUint32(bytes.Clone(use), id))
	if s.kyberUses[key] {
		return fmt.Errorf("%w: a first message was replayed", protocol.ErrInvalidMessage)
	}
	if s.trial != nil {
		s.kyberUses[key] = true
		return nil
	}
	fresh, err := s.tx.MarkPreKeyUsed(store.KyberPreKey, id, use)
	if err != nil {
		return err
	}
	if !fresh {
		return fmt.Errorf("%w: a first message was replayed", protocol.ErrInvalidMessage)
	}
	s.kyberUses[key] = true
	return nil
}
