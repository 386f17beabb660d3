package trust

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/protostore"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/fingerprint"
	"github.com/skymsg/sky/protocol/message"
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

// SafetyNumber returns the safety number of the user and peer. It fails with
// core.ErrNotFound when no key of peer is known yet (exchange a message first).
func (t *Trust) SafetyNumber(peer string) (SafetyNumber, error) {
	c := t.c
	if err := c.CheckPeer(peer); err != nil {
		return SafetyNumber{}, err
	}
	out := SafetyNumber{Peer: peer}
	var key []byte
	err := c.View(func(tx *store.Tx) error {
		_, pinned, err := core.PeerIdentityOf(tx, peer)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		key, out.Verified = pinned.Key, pinned.Verified
		p, err := core.LoadPending(tx, peer)
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
		return out, fmt.Errorf("%w: no identity key of %s is known yet; send them a message (or receive one) first", core.ErrNotFound, peer)
	}
	fp, err := c.Fingerprint(peer, key)
	if err != nil {
		return out, err
	}
	out.Digits, out.Scannable = fp.Displayable, fp.Scannable
	return out, nil
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
func (t *Trust) CompareScanned(peer string, scanned []byte) (bool, error) {
	sn, err := t.SafetyNumber(peer)
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
// new key are returned, for the client to read now.
//
// The number binds the decision to the key the user saw: if the key waiting
// for a decision changed after the user read its number (a server can
// present a new one at any moment), Verify fails with
// ErrSafetyNumberChanged and changes nothing.
func (t *Trust) Verify(ctx context.Context, peer, number string) (held []*wire.Envelope, err error) {
	c := t.c
	if err := c.CheckPeer(peer); err != nil {
		return nil, err
	}
	var kept [][]byte
	err = c.Update(func(tx *store.Tx) error {
		p, err := core.LoadPending(tx, peer)
		if err != nil {
			return err
		}
		now := c.Now()
		if p == nil {
			addr, pinned, err := core.PeerIdentityOf(tx, peer)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%w: no identity key of %s is known yet; send them a message (or receive one) first", core.ErrNotFound, peer)
			}
			if err != nil {
				return err
			}
			if err := t.checkNumber(peer, pinned.Key, number); err != nil {
				return err
			}
			pinned.Verified = true
			return tx.PutPeerIdentity(addr, pinned)
		}
		if err := t.checkNumber(peer, p.Key, number); err != nil {
			return err
		}
		addr := store.Address{Name: peer, Device: p.Device}
		if err := tx.PutPeerIdentity(addr, store.PeerIdentity{Key: p.Key, Verified: true, FirstSeen: now}); err != nil {
			return err
		}
		ps := protostore.New(tx, c.Local, now)
		if err := protocol.ArchiveSession(ctx, ps, protocol.Address{Name: peer, DeviceID: p.Device}); err != nil {
			return err
		}
		if err := ps.Commit(); err != nil {
			return err
		}
		f, err := core.SettingFields(tx, setHeldEnv+peer)
		if err != nil {
			return err
		}
		kept = f.Bytes[1]
		if err := Forget(tx, peer); err != nil {
			return err
		}
		return core.ClearPending(tx, peer)
	})
	if err != nil {
		return nil, err
	}
	c.Unblock(peer)
	for _, raw := range kept {
		e := new(wire.Envelope)
		if proto.Unmarshal(raw, e) == nil {
			held = append(held, e)
		}
	}
	return held, nil
}

// checkNumber fails with ErrSafetyNumberChanged unless number is the safety
// number of the user and peer's key.
func (t *Trust) checkNumber(peer string, key []byte, number string) error {
	fp, err := t.c.Fingerprint(peer, key)
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
func (t *Trust) KeepIdentity(peer string) error {
	c := t.c
	if err := c.CheckPeer(peer); err != nil {
		return err
	}
	err := c.Update(func(tx *store.Tx) error {
		p, err := core.LoadPending(tx, peer)
		if err != nil {
			return err
		}
		if p == nil {
			return fmt.Errorf("%w: %s presented no new key", core.ErrNotFound, peer)
		}
		if err := Forget(tx, peer); err != nil {
			return err
		}
		return core.ClearPending(tx, peer)
	})
	if err != nil {
		return err
	}
	c.Unblock(peer)
	c.KickOutbox()
	c.Notify()
	return nil
}

// Trust is the verification concern of a client: safety numbers, the
// user's decisions on changed identity keys, and the envelopes held while
// one waits (under its own setting names). The pending change itself is
// the core's (core.RecordChanged), since both pipelines stop at it.
type Trust struct{ c *core.Core }

// New returns the trust concern of the client core c.
func New(c *core.Core) *Trust { return &Trust{c: c} }

// setHeldEnv + peer: bytes repeated, envelopes waiting for a key decision.
const setHeldEnv = "held-envelopes/"

// Forget destroys the envelopes held for peer (when the user rejects them).
func Forget(tx *store.Tx, peer string) error {
	if err := tx.DeleteSetting(setHeldEnv + peer); err != nil {
		return err
	}
	return core.RemoveFromList(tx, setHeldPeers, peer)
}

// maxHeldEnvelopes and maxHeldEnvelopeBytes bound the envelopes kept per
// peer while a key change waits for the user's decision. A server can make
// such envelopes at will (a first message under a key of its own), so the
// byte bound keeps what it can take small, and each rewrite cheap.
// maxHeldPeers bounds how many peers have envelopes held at once (the
// oldest peer's go first), so that all held envelopes together stay under
// maxHeldPeers × maxHeldEnvelopeBytes whatever the server makes up.
const (
	maxHeldEnvelopes     = 100
	maxHeldEnvelopeBytes = 4 << 20
	maxHeldPeers         = 8
)

// setHeldPeers: bytes repeated, the peers with held envelopes, oldest first.
const setHeldPeers = "held-envelope-peers"

// keepHeldEnvelope adds an envelope to the ones held, dropping the oldest
// beyond the bounds.
func keepHeldEnvelope(envs [][]byte, kept []byte) [][]byte {
	envs = append(envs, kept)
	size := 0
	for _, e := range envs {
		size += len(e)
	}
	for len(envs) > 0 && (len(envs) > maxHeldEnvelopes || size > maxHeldEnvelopeBytes) {
		size -= len(envs[0])
		envs = envs[1:]
	}
	return envs
}

// HoldChanged records that peer's device presented a new
// identity key in a first message (raw: its type byte and bytes), and keeps
// the envelope until the user decides.
func (t *Trust) HoldChanged(tx *store.Tx, peer string, dev uint32, env *wire.Envelope, raw []byte, b *core.Batch) error {
	m, err := message.ParsePreKeySignalMessage(raw[1:])
	if err != nil {
		b.Drop(peer, "a malformed first message")
		return nil
	}
	ev, err := t.c.RecordChanged(tx, peer, dev, m.IdentityKey.Bytes(), b.Now)
	if err != nil {
		return err
	}
	if ev != nil {
		b.Events = append(b.Events, ev)
	}
	kept, err := proto.Marshal(env)
	if err != nil {
		return fmt.Errorf("keeping an envelope: %w", err)
	}
	list, err := core.SettingFields(tx, setHeldEnv+peer)
	if err != nil {
		return err
	}
	var out []byte
	for _, e := range keepHeldEnvelope(list.Bytes[1], kept) {
		out = core.PutBytes(out, 1, e)
	}
	if out == nil {
		return Forget(tx, peer)
	}
	if err := tx.SetSetting(setHeldEnv+peer, out); err != nil {
		return err
	}
	return t.listHeld(tx, peer, b)
}

// listHeld lists peer among those with held envelopes, dropping the oldest
// peer's beyond maxHeldPeers (their key change still waits; only the
// messages that came with the new key are lost, and the user is told).
func (t *Trust) listHeld(tx *store.Tx, peer string, b *core.Batch) error {
	peers, err := core.StringList(tx, setHeldPeers)
	if err != nil || slices.Contains(peers, peer) {
		return err
	}
	peers = append(peers, peer)
	for len(peers) > maxHeldPeers {
		if err := tx.DeleteSetting(setHeldEnv + peers[0]); err != nil {
			return err
		}
		b.Drop(peers[0], "the messages that came with a new key wait for your decision no longer: too many key changes wait at once")
		peers = peers[1:]
	}
	return core.SaveStringList(tx, setHeldPeers, peers)
}
