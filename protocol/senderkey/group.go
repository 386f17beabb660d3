package senderkey

import (
	"context"
	"sync"

	"github.com/skymsg/sky/protocol"
)

// Store keeps sender-key records, one per (sender device, distribution).
type Store interface {
	// LoadSenderKey returns the record, or nil if there is none. The caller
	// may change the returned record; the store must not share it.
	LoadSenderKey(ctx context.Context, sender protocol.Address, id DistributionID) (*Record, error)
	// StoreSenderKey saves the record.
	StoreSenderKey(ctx context.Context, sender protocol.Address, id DistributionID, r *Record) error
}

// CreateDistribution returns the distribution message of this device's
// (self's) sender key for the distribution, creating the key first if there
// is none. A message for an existing key carries its current iteration and
// chain key, so members who get it later cannot read earlier messages.
func CreateDistribution(ctx context.Context, s Store, self protocol.Address, id DistributionID) (*DistributionMessage, error) {
	r, err := s.LoadSenderKey(ctx, self, id)
	if err != nil {
		return nil, err
	}
	if r == nil {
		r = NewRecord()
		r.add(generate())
		if err := s.StoreSenderKey(ctx, self, id, r); err != nil {
			return nil, err
		}
	}
	return r.DistributionMessage(id)
}

// ProcessDistribution records the sender key that sender handed over in m.
func ProcessDistribution(ctx context.Context, s Store, sender protocol.Address, m *DistributionMessage) error {
	r, err := s.LoadSenderKey(ctx, sender, m.DistributionID)
	if err != nil {
		return err
	}
	if r == nil {
		r = NewRecord()
	}
	r.Process(m)
	return s.StoreSenderKey(ctx, sender, m.DistributionID, r)
}

// Encrypt encrypts plaintext for the distribution with self's sender key
// (made by CreateDistribution) and returns the encoded Message.
func Encrypt(ctx context.Context, s Store, self protocol.Address, id DistributionID, plaintext []byte) ([]byte, error) {
	r, err := s.LoadSenderKey(ctx, self, id)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, noSenderKey("this device has no sender key for distribution %s", id)
	}
	m, err := r.Encrypt(id, plaintext)
	if err != nil {
		return nil, err
	}
	if err := s.StoreSenderKey(ctx, self, id, r); err != nil {
		return nil, err
	}
	return m.Bytes(), nil
}

// Decrypt decrypts a group message from sender. A failed decryption stores
// nothing. Errors are those of ParseMessage and Record.Decrypt, and
// protocol.ErrNoSession when no key of sender for the message's distribution
// is known.
func Decrypt(ctx context.Context, s Store, sender protocol.Address, ciphertext []byte) ([]byte, error) {
	m, err := ParseMessage(ciphertext)
	if err != nil {
		return nil, err
	}
	r, err := s.LoadSenderKey(ctx, sender, m.DistributionID)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, noSenderKey("no sender key of %s for distribution %s", sender, m.DistributionID)
	}
	pt, err := r.Decrypt(m)
	if err != nil {
		return nil, err
	}
	if err := s.StoreSenderKey(ctx, sender, m.DistributionID, r); err != nil {
		return nil, err
	}
	return pt, nil
}

// MemoryStore is a Store in memory, for tests and the interop test peer. It
// keeps records encoded, as a durable store would, so a loaded record is
// always a fresh copy. It is safe for concurrent use.
type MemoryStore struct {
	mu      sync.Mutex
	records map[memoryKey][]byte
}

type memoryKey struct {
	sender protocol.Address
	id     DistributionID
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{records: map[memoryKey][]byte{}} }

// LoadSenderKey decodes the stored record, or returns nil.
func (m *MemoryStore) LoadSenderKey(_ context.Context, sender protocol.Address, id DistributionID) (*Record, error) {
	m.mu.Lock()
	b, ok := m.records[memoryKey{sender, id}]
	m.mu.Unlock()
	if !ok {
		return nil, nil
	}
	return ParseRecord(b)
}

// StoreSenderKey encodes and keeps the record.
func (m *MemoryStore) StoreSenderKey(_ context.Context, sender protocol.Address, id DistributionID, r *Record) error {
	b, err := r.MarshalBinary()
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.records[memoryKey{sender, id}] = b
	m.mu.Unlock()
	return nil
}

// Snapshot returns a copy of every stored record, encoded, for comparing a
// store before and after an operation.
func (m *MemoryStore) Snapshot() map[string][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string][]byte, len(m.records))
	for k, b := range m.records {
		out[k.sender.String()+"/"+k.id.String()] = append([]byte(nil), b...)
	}
	return out
}
