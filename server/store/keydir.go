package store

import (
	"context"
	"errors"
)

// KeyDirEpoch is one published epoch of the key directory: its record (the
// updates with their proofs, keytrans.Epoch's encoding) and its signed head.
type KeyDirEpoch struct {
	Number uint64
	Record []byte
	Head   []byte
}

// KeyDirValue is what one version of one entry opens to: the value (an
// identity key) and the commitment's opening. Index is the entry's VRF
// output, never an account ID.
type KeyDirValue struct {
	Index   []byte
	Version uint32
	Opening []byte
	Value   []byte
}

// KeyDirPending is a value waiting for the next epoch.
type KeyDirPending struct {
	Index []byte
	Value []byte
}

// KeyDirCountersig is an auditor's countersignature of the head of Size.
type KeyDirCountersig struct {
	Auditor   []byte
	Size      uint64
	Signature []byte
}

// ErrKeyDirConflict says that another node published the epoch first, or
// holds the writer's lock: catch up and try at the next tick.
var ErrKeyDirConflict = errors.New("store: another node is publishing the key directory")

// KeyDir is what the key directory (server/keydir) keeps. Both backends
// implement it; it is not part of Store so that stores without a directory
// stay possible.
type KeyDir interface {
	// QueueKeyDir sets the value an entry takes at the next epoch,
	// replacing one queued before.
	QueueKeyDir(ctx context.Context, p KeyDirPending) error
	// PendingKeyDir returns up to limit queued values.
	PendingKeyDir(ctx context.Context, limit int) ([]KeyDirPending, error)
	// PublishKeyDir stores, in one transaction, epoch e (whose number must
	// be one more than the newest stored, or 0 on an empty directory), the
	// values it sets, and removes the queued values it published (those
	// queued again with another value meanwhile stay). ErrKeyDirConflict if
	// another writer holds the lock or took e's number.
	PublishKeyDir(ctx context.Context, e KeyDirEpoch, values []KeyDirValue, published []KeyDirPending) error
	// KeyDirEpochs returns up to limit epochs numbered from, in order.
	KeyDirEpochs(ctx context.Context, from uint64, limit int) ([]KeyDirEpoch, error)
	// KeyDirValue returns one version of one entry, or ErrNotFound.
	KeyDirValue(ctx context.Context, index []byte, version uint32) (KeyDirValue, error)
	// SetKeyDirCountersig keeps c unless the auditor's stored
	// countersignature is of a head at least as large.
	SetKeyDirCountersig(ctx context.Context, c KeyDirCountersig) error
	// KeyDirCountersigs returns each auditor's newest countersignature.
	KeyDirCountersigs(ctx context.Context) ([]KeyDirCountersig, error)
}
