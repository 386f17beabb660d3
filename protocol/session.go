package protocol

import (
	"context"
	"errors"
	"time"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/message"
	"github.com/skymsg/sky/protocol/pqxdh"
	"github.com/skymsg/sky/protocol/prekey"
	"github.com/skymsg/sky/protocol/ratchet"
)

// MessageType is the envelope type of a ciphertext.
type MessageType uint8

// The envelope types of 1:1 messages, as libsignal numbers them.
const (
	TypeWhisper MessageType = 2 // a SignalMessage
	TypePreKey  MessageType = 3 // a PreKeySignalMessage
)

// Ciphertext is an encrypted message and its envelope type.
type Ciphertext struct {
	Type  MessageType
	Bytes []byte
}

// MaxUnacknowledgedAge is how long an initiated session may go without a
// reply before it refuses to encrypt (the sender should fetch a new bundle).
const MaxUnacknowledgedAge = 30 * 24 * time.Hour

// ProcessPreKeyBundle starts a new session with remote from its prekey
// bundle (PQXDH as initiator) and makes it the current one; an existing
// session is archived. The bundle's identity key must be trusted and both
// prekey signatures must verify. Until remote answers, messages to it are
// PreKeySignalMessages. now is recorded as the session's creation time.
func ProcessPreKeyBundle(ctx context.Context, s Stores, local, remote Address, b *prekey.Bundle, now time.Time) error {
	if err := checkTrusted(ctx, s, remote, b.IdentityKey, Sending); err != nil {
		return err
	}
	if err := b.Verify(); err != nil {
		return err
	}
	rec, err := loadOrNew(ctx, s, remote)
	if err != nil {
		return err
	}
	ik, regID, err := localIdentity(ctx, s)
	if err != nil {
		return err
	}
	base := curve.GenerateKeyPair()
	secrets, kyberCT, err := pqxdh.Initiate(&pqxdh.Initiator{
		Identity:           ik,
		BaseKey:            base,
		TheirIdentity:      b.IdentityKey,
		TheirSignedPreKey:  b.SignedPreKey,
		TheirOneTimePreKey: b.PreKey,
		TheirKyberPreKey:   b.KyberPreKey,
	})
	if err != nil {
		return err
	}
	st, err := ratchet.NewAlice(&ratchet.Alice{
		Secrets:           secrets,
		LocalIdentity:     ik.Public,
		RemoteIdentity:    b.IdentityKey,
		BaseKey:           base.Public,
		TheirSignedPreKey: b.SignedPreKey,
		Self:              ik.Public == b.IdentityKey && sameAccount(local, remote),
	})
	if err != nil {
		return err
	}
	st.Pending = &ratchet.Pending{
		HasPreKeyID:     b.PreKey != nil,
		PreKeyID:        b.PreKeyID,
		SignedPreKeyID:  b.SignedPreKeyID,
		KyberPreKeyID:   b.KyberPreKeyID,
		KyberCiphertext: kyberCT,
		BaseKey:         base.Public,
		Timestamp:       uint64(max(now.Unix(), 0)),
	}
	st.LocalRegistrationID = regID
	st.RemoteRegistrationID = b.RegistrationID
	rec.promote(st)
	if err := s.Identities.SaveIdentity(ctx, remote, b.IdentityKey); err != nil {
		return err
	}
	return s.Sessions.StoreSession(ctx, remote, rec)
}

// Encrypt encrypts plaintext for remote with the current session. It fails
// with ErrNoSession when there is none (or it went unacknowledged for more
// than 30 days at now) and with ErrUntrustedIdentity when remote's identity
// key is no longer trusted.
func Encrypt(ctx context.Context, s Stores, local, remote Address, plaintext []byte, now time.Time) (Ciphertext, error) {
	rec, err := s.Sessions.LoadSession(ctx, remote)
	if err != nil {
		return Ciphertext{}, err
	}
	if rec == nil || rec.current == nil {
		return Ciphertext{}, errs.Newf(errs.NoSession, "no session with %s", remote)
	}
	st := rec.current
	p := st.Pending
	if p != nil && time.Unix(int64(p.Timestamp), 0).Add(MaxUnacknowledgedAge).Before(now) {
		return Ciphertext{}, errs.Newf(errs.NoSession, "the session with %s went unanswered for more than 30 days", remote)
	}
	if err := checkTrusted(ctx, s, remote, st.RemoteIdentity, Sending); err != nil {
		return Ciphertext{}, err
	}
	var out Ciphertext
	if p == nil {
		m, err := st.Encrypt(plaintext, nil)
		if err != nil {
			return Ciphertext{}, err
		}
		out = Ciphertext{Type: TypeWhisper, Bytes: m.Bytes()}
	} else {
		m, err := st.Encrypt(plaintext, addressesField(local, remote))
		if err != nil {
			return Ciphertext{}, err
		}
		pm := &message.PreKeySignalMessage{
			Version:         st.Version,
			RegistrationID:  st.LocalRegistrationID,
			HasPreKeyID:     p.HasPreKeyID,
			PreKeyID:        p.PreKeyID,
			SignedPreKeyID:  p.SignedPreKeyID,
			KyberPreKeyID:   p.KyberPreKeyID,
			KyberCiphertext: p.KyberCiphertext,
			BaseKey:         p.BaseKey,
			IdentityKey:     st.LocalIdentity,
			Message:         m,
		}
		out = Ciphertext{Type: TypePreKey, Bytes: pm.Encode()}
	}
	if err := s.Identities.SaveIdentity(ctx, remote, st.RemoteIdentity); err != nil {
		return Ciphertext{}, err
	}
	if err := s.Sessions.StoreSession(ctx, remote, rec); err != nil {
		return Ciphertext{}, err
	}
	return out, nil
}

// Decrypt decrypts a message from remote. A failed decryption changes no
// store. Errors: ErrDuplicateMessage, ErrInvalidMessage, ErrInvalidKey (the
// message names prekeys this device does not have), ErrUntrustedIdentity,
// ErrNoSession (a SignalMessage with no session), or a store's error.
func Decrypt(ctx context.Context, s Stores, local, remote Address, c Ciphertext) ([]byte, error) {
	switch c.Type {
	case TypeWhisper:
		// m lives only in this call and the state never keeps its bytes
		// (SPQR copies its chunk), so it may read c.Bytes in place.
		m, err := message.ParseSignalMessageInPlace(c.Bytes)
		if err != nil {
			return nil, err
		}
		return decryptSignal(ctx, s, local, remote, m)
	case TypePreKey:
		m, err := message.ParsePreKeySignalMessage(c.Bytes)
		if err != nil {
			return nil, err
		}
		return decryptPreKey(ctx, s, local, remote, m)
	}
	return nil, errs.Newf(errs.InvalidMessage, "message type %d is not a 1:1 message", c.Type)
}

func decryptSignal(ctx context.Context, s Stores, local, remote Address, m *message.SignalMessage) ([]byte, error) {
	rec, err := s.Sessions.LoadSession(ctx, remote)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, errs.Newf(errs.NoSession, "no session with %s to decrypt with", remote)
	}
	pt, err := rec.decrypt(m, local, remote, true)
	if err != nil {
		return nil, err
	}
	their := rec.current.RemoteIdentity
	if err := checkTrusted(ctx, s, remote, their, Receiving); err != nil {
		return nil, err
	}
	if err := s.Identities.SaveIdentity(ctx, remote, their); err != nil {
		return nil, err
	}
	if err := s.Sessions.StoreSession(ctx, remote, rec); err != nil {
		return nil, err
	}
	return pt, nil
}

func decryptPreKey(ctx context.Context, s Stores, local, remote Address, m *message.PreKeySignalMessage) ([]byte, error) {
	if err := checkTrusted(ctx, s, remote, m.IdentityKey, Receiving); err != nil {
		return nil, err
	}
	rec, err := loadOrNew(ctx, s, remote)
	if err != nil {
		return nil, err
	}
	var used *message.PreKeySignalMessage // set when this message's prekeys built a new state
	if !rec.findBaseKey(m.Version, m.BaseKey) {
		if err := rec.acceptPreKey(ctx, s, local, remote, m); err != nil {
			return nil, err
		}
		used = m
	}
	pt, err := rec.decrypt(m.Message, local, remote, false)
	if err != nil {
		return nil, err
	}
	if used != nil {
		if err := s.KyberPreKeys.MarkKyberPreKeyUsed(ctx, m.KyberPreKeyID, m.SignedPreKeyID, m.BaseKey); err != nil {
			return nil, err
		}
	}
	if err := s.Identities.SaveIdentity(ctx, remote, m.IdentityKey); err != nil {
		return nil, err
	}
	if used != nil && m.HasPreKeyID {
		if err := s.PreKeys.RemovePreKey(ctx, m.PreKeyID); err != nil {
			return nil, err
		}
	}
	if err := s.Sessions.StoreSession(ctx, remote, rec); err != nil {
		return nil, err
	}
	return pt, nil
}

// acceptPreKey runs PQXDH as recipient for m and makes the new state current.
func (r *SessionRecord) acceptPreKey(ctx context.Context, s Stores, local, remote Address, m *message.PreKeySignalMessage) error {
	if m.Version == message.PreKyberVersion || !m.HasKyber() {
		return errs.New(errs.InvalidMessage, "X3DH (version 3) sessions are no longer supported")
	}
	spk, found, err := s.SignedPreKeys.LoadSignedPreKey(ctx, m.SignedPreKeyID)
	if err != nil {
		return err
	}
	if !found {
		return errs.Newf(errs.InvalidKey, "the message names signed prekey %d, which this device does not have", m.SignedPreKeyID)
	}
	kyber, found, err := s.KyberPreKeys.LoadKyberPreKey(ctx, m.KyberPreKeyID)
	if err != nil {
		return err
	}
	if !found {
		return errs.Newf(errs.InvalidKey, "the message names Kyber prekey %d, which this device does not have", m.KyberPreKeyID)
	}
	var opk *curve.KeyPair
	if m.HasPreKeyID {
		k, found, err := s.PreKeys.LoadPreKey(ctx, m.PreKeyID)
		if err != nil {
			return err
		}
		if !found {
			return errs.Newf(errs.InvalidKey, "the message names one-time prekey %d, which this device does not have (already used?)", m.PreKeyID)
		}
		opk = &k.KeyPair
	}
	ik, regID, err := localIdentity(ctx, s)
	if err != nil {
		return err
	}
	secrets, err := pqxdh.Accept(&pqxdh.Recipient{
		Identity:        ik,
		SignedPreKey:    spk.KeyPair,
		OneTimePreKey:   opk,
		KyberPreKey:     kyber.KeyPair.Secret,
		TheirIdentity:   m.IdentityKey,
		TheirBaseKey:    m.BaseKey,
		KyberCiphertext: m.KyberCiphertext,
	})
	if err != nil {
		return err
	}
	st, err := ratchet.NewBob(&ratchet.Bob{
		Secrets:        secrets,
		LocalIdentity:  ik.Public,
		RemoteIdentity: m.IdentityKey,
		TheirBaseKey:   m.BaseKey,
		SignedPreKey:   spk.KeyPair,
		Self:           ik.Public == m.IdentityKey && sameAccount(local, remote),
	})
	if err != nil {
		return err
	}
	st.LocalRegistrationID = regID
	st.RemoteRegistrationID = m.RegistrationID
	r.promote(st)
	return nil
}

// decrypt tries the current state, then (for SignalMessages only) each
// archived state; a success on an archived state makes it current. r is
// changed only on success.
func (r *SessionRecord) decrypt(m *message.SignalMessage, local, remote Address, tryArchived bool) ([]byte, error) {
	var opt ratchet.DecryptOptions
	if m.Addresses != nil {
		opt.Addresses = addressesField(remote, local)
	}
	var firstErr error
	if c := r.current; c != nil {
		opt.Self = c.LocalIdentity == c.RemoteIdentity && sameAccount(local, remote)
		pt, err := c.Decrypt(m, opt)
		if err == nil {
			c.Pending = nil
			return pt, nil
		}
		if errors.Is(err, errs.DuplicateMessage) {
			return nil, err
		}
		firstErr = err
	}
	if tryArchived {
		for i, enc := range r.archived {
			st, err := ratchet.Parse(enc)
			if err != nil {
				continue
			}
			opt.Self = st.LocalIdentity == st.RemoteIdentity && sameAccount(local, remote)
			pt, err := st.Decrypt(m, opt)
			if err == nil {
				st.Pending = nil
				r.promoteArchived(i, st)
				return pt, nil
			}
			if errors.Is(err, errs.DuplicateMessage) {
				return nil, err
			}
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if firstErr == nil {
		return nil, errs.Newf(errs.NoSession, "no session state with %s to decrypt with", remote)
	}
	return nil, errs.Newf(errs.InvalidMessage, "decryption failed (%s)", errs.Detail(firstErr))
}

func checkTrusted(ctx context.Context, s Stores, addr Address, key curve.PublicKey, dir Direction) error {
	ok, err := s.Identities.IsTrustedIdentity(ctx, addr, key, dir)
	if err != nil {
		return err
	}
	if !ok {
		return errs.Newf(errs.UntrustedIdentity, "identity key of %s changed", addr)
	}
	return nil
}

func loadOrNew(ctx context.Context, s Stores, addr Address) (*SessionRecord, error) {
	rec, err := s.Sessions.LoadSession(ctx, addr)
	if err != nil || rec != nil {
		return rec, err
	}
	return NewSessionRecord(), nil
}

func localIdentity(ctx context.Context, s Stores) (identity.KeyPair, uint32, error) {
	ik, err := s.Identities.IdentityKeyPair(ctx)
	if err != nil {
		return ik, 0, err
	}
	id, err := s.Identities.LocalRegistrationID(ctx)
	return ik, id, err
}

// ArchiveSession archives the current session with addr, if any: the next
// message to addr needs a new session from a fresh bundle, while messages
// still in flight on the old one decrypt with the archived state. Clients do
// this to reset a session that went wrong.
func ArchiveSession(ctx context.Context, sessions SessionStore, addr Address) error {
	rec, err := sessions.LoadSession(ctx, addr)
	if err != nil || rec == nil || rec.current == nil {
		return err
	}
	rec.ArchiveCurrent()
	return sessions.StoreSession(ctx, addr, rec)
}
