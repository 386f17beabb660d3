package protocol

import (
	"context"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/prekey"
)

// Direction says whether an identity key is about to be used to send or
// was used to receive.
type Direction int

// The two directions of IsTrustedIdentity.
const (
	Sending Direction = iota
	Receiving
)

// IdentityStore keeps this device's identity and the identity keys of the
// peers it talks to. Trust rule (trust on first use): a key for an address
// with no recorded key is trusted; the recorded key is trusted; any other
// key is untrusted until the user accepts it through the store's own API.
// The protocol never replaces a recorded key by itself.
type IdentityStore interface {
	IdentityKeyPair(ctx context.Context) (identity.KeyPair, error)
	LocalRegistrationID(ctx context.Context) (uint32, error)
	IsTrustedIdentity(ctx context.Context, addr Address, key curve.PublicKey, dir Direction) (bool, error)
	// SaveIdentity records key for addr. It is called only with keys
	// IsTrustedIdentity accepted, after a successful operation.
	SaveIdentity(ctx context.Context, addr Address, key curve.PublicKey) error
}

// PreKeyStore keeps one-time EC prekeys.
type PreKeyStore interface {
	LoadPreKey(ctx context.Context, id uint32) (k prekey.PreKey, found bool, err error)
	RemovePreKey(ctx context.Context, id uint32) error
}

// SignedPreKeyStore keeps signed EC prekeys.
type SignedPreKeyStore interface {
	LoadSignedPreKey(ctx context.Context, id uint32) (k prekey.SignedPreKey, found bool, err error)
}

// KyberPreKeyStore keeps Kyber prekeys.
type KyberPreKeyStore interface {
	LoadKyberPreKey(ctx context.Context, id uint32) (k prekey.KyberPreKey, found bool, err error)
	// MarkKyberPreKeyUsed is called once a PreKeySignalMessage using the key
	// decrypted. A store deletes one-time keys here, and for last-resort keys
	// refuses (with an ErrInvalidMessage error) a (signed prekey ID, base
	// key) pair it has seen before, which stops replays of old first messages.
	MarkKyberPreKeyUsed(ctx context.Context, id, signedPreKeyID uint32, baseKey curve.PublicKey) error
}

// SessionStore keeps one session record per remote address.
type SessionStore interface {
	// LoadSession returns the record of addr, or nil if there is none. The
	// caller may modify the returned record; the store must not share it.
	LoadSession(ctx context.Context, addr Address) (*SessionRecord, error)
	// StoreSession keeps r as the record of addr. r is the store's from
	// then on: this package never uses a record again once stored, so a
	// store may keep r itself (decoded) rather than a copy.
	StoreSession(ctx context.Context, addr Address, r *SessionRecord) error
}

// Stores are the stores a device's sessions use.
type Stores struct {
	Identities    IdentityStore
	Sessions      SessionStore
	PreKeys       PreKeyStore
	SignedPreKeys SignedPreKeyStore
	KyberPreKeys  KyberPreKeyStore
}
