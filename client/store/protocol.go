package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/skymsg/sky/client/store/envelope"
)

// The protocol core's state: sessions, peers' identity keys and the own
// prekeys. The records are the protocol core's encodings; the store seals
// them and never reads them. Deleting one checkpoints the WAL at once;
// replacing one (a session ratchets at every message) schedules a checkpoint
// (see Store.Scrub), so that old ratchet states do not stay in the WAL.

func addressKey(a Address) []byte {
	return binary.BigEndian.AppendUint32([]byte(a.Name), a.Device)
}

func addressFromKey(k []byte) (Address, bool) {
	if len(k) < 4 {
		return Address{}, false
	}
	n := len(k) - 4
	return Address{Name: string(k[:n]), Device: binary.BigEndian.Uint32(k[n:])}, true
}

func checkAddress(a Address) error {
	if a.Name == "" {
		return invalid("the address has no name")
	}
	return nil
}

// Session returns the session record for addr, or ErrNotFound.
func (t *Tx) Session(addr Address) (Secret, error) {
	if v, ok := t.sessions[addr]; ok {
		return Secret(bytes.Clone(v)), nil
	}
	v, err := t.get("sessions", addressKey(addr))
	return Secret(v), err
}

// PeekSession is Session without the copy, for a caller that only reads
// the record there and then (protostore compares it with the record it
// decoded last, or parses it): the caller must neither change it nor keep
// it, as the transaction may overwrite or wipe it.
func (t *Tx) PeekSession(addr Address) ([]byte, error) {
	if v, ok := t.sessions[addr]; ok {
		return v, nil
	}
	if v, ok := t.read[readKey("sessions", addressKey(addr))]; ok {
		if v == nil {
			return nil, ErrNotFound
		}
		return v, nil
	}
	return t.get("sessions", addressKey(addr)) // a fresh copy, also cached
}

// PutSession stores the session record for addr. The row is written when
// the transaction commits (or before anything lists sessions), once however
// often the session changed meanwhile: a push of many messages from one
// peer seals and writes its session once, not once per message.
func (t *Tx) PutSession(addr Address, record []byte) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := checkAddress(addr); err != nil {
		return err
	}
	t.replaced = true
	if t.sessions == nil {
		t.sessions = make(map[Address][]byte)
	}
	if _, ok := t.sessions[addr]; !ok {
		t.sessionOrder = append(t.sessionOrder, addr)
	}
	t.sessions[addr] = bytes.Clone(record) // wiped once written
	return nil
}

// flushSessions writes the sessions PutSession holds, in the order they
// were first put.
func (t *Tx) flushSessions() error {
	for _, addr := range t.sessionOrder {
		v, ok := t.sessions[addr]
		if !ok {
			continue // deleted meanwhile
		}
		if err := t.put("sessions", addressKey(addr), t.hash("sessions.grp", []byte(addr.Name)), v); err != nil {
			return err
		}
		clear(v)
	}
	clear(t.sessions)
	t.sessionOrder = t.sessionOrder[:0]
	return nil
}

// DeleteSession removes the session for addr; a missing one is not an error.
func (t *Tx) DeleteSession(addr Address) error {
	if err := t.writable(); err != nil {
		return err
	}
	if v, ok := t.sessions[addr]; ok {
		clear(v)
		delete(t.sessions, addr)
	}
	_, err := t.del("sessions", addressKey(addr))
	return err
}

// SessionDevices returns the device IDs of name that have a session, in
// ascending order.
func (t *Tx) SessionDevices(name string) ([]uint32, error) {
	if err := t.flushSessions(); err != nil {
		return nil, err
	}
	pairs, err := t.list("sessions", t.hash("sessions.grp", []byte(name)))
	if err != nil {
		return nil, err
	}
	var out []uint32
	for _, p := range pairs {
		a, ok := addressFromKey(p.key)
		if !ok || a.Name != name {
			return nil, corrupt("session row holds another peer", nil)
		}
		out = append(out, a.Device)
	}
	slices.Sort(out)
	return out, nil
}

// DeleteSessions removes every session of name.
func (t *Tx) DeleteSessions(name string) error {
	devs, err := t.SessionDevices(name)
	if err != nil {
		return err
	}
	for _, d := range devs {
		if err := t.DeleteSession(Address{name, d}); err != nil {
			return err
		}
	}
	return nil
}

// PeerIdentity returns the pinned identity of addr, or ErrNotFound.
func (t *Tx) PeerIdentity(addr Address) (PeerIdentity, error) {
	return getRecord(t, "identities", addressKey(addr), decodePeerIdentity)
}

// PutPeerIdentity pins (or replaces) the identity of addr. Deciding whether a
// change is allowed is the SDK's job.
func (t *Tx) PutPeerIdentity(addr Address, p PeerIdentity) error {
	if err := checkAddress(addr); err != nil {
		return err
	}
	if !validTime(p.FirstSeen) {
		return invalid("the first-seen time is outside 1970..2262")
	}
	return t.put("identities", addressKey(addr), t.hash("identities.grp", []byte(addr.Name)), encodePeerIdentity(&p))
}

// DeletePeerIdentity forgets the identity of addr.
func (t *Tx) DeletePeerIdentity(addr Address) error {
	_, err := t.del("identities", addressKey(addr))
	return err
}

func preKeyKey(kind PreKeyKind, id uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{byte(kind)}, id)
}

// PreKey returns the own prekey record (private part included) of kind and
// id, or ErrNotFound.
func (t *Tx) PreKey(kind PreKeyKind, id uint32) (Secret, error) {
	v, err := t.get("prekeys", preKeyKey(kind, id))
	return Secret(v), err
}

// PutPreKey stores a prekey record.
func (t *Tx) PutPreKey(kind PreKeyKind, id uint32, record []byte) error {
	if !kind.valid() {
		return invalid("unknown prekey kind")
	}
	t.replaced = true
	return t.put("prekeys", preKeyKey(kind, id), t.hash("prekeys.grp", []byte{byte(kind)}), record)
}

// DeletePreKey removes a prekey (after use) and the uses recorded for it; a
// missing one is not an error.
func (t *Tx) DeletePreKey(kind PreKeyKind, id uint32) error {
	key := preKeyKey(kind, id)
	if _, err := t.del("prekeys", key); err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM prekey_uses WHERE grp = ?`, t.hash("prekeys", key)); err != nil {
		return fmt.Errorf("deleting prekey uses: %w", err)
	}
	return nil
}

// MarkPreKeyUsed records one use of a reusable prekey and reports whether
// that use is new. For a last-resort Kyber prekey, use is the signed prekey ID
// and the base key of the first message: a use seen before is a replayed
// first message, which the protocol refuses. The uses go with the prekey.
func (t *Tx) MarkPreKeyUsed(kind PreKeyKind, id uint32, use []byte) (bool, error) {
	if err := t.writable(); err != nil {
		return false, err
	}
	if !kind.valid() || len(use) == 0 {
		return false, invalid("a prekey use needs a known kind and a non-empty use")
	}
	key := preKeyKey(kind, id)
	useKey := append(append([]byte{}, key...), use...)
	k := t.hash("prekey_uses", useKey)
	v := t.s.seal.Seal(envelope.AD("prekey_uses", "v", k), encodeKV(useKey, nil))
	res, err := t.exec(`INSERT INTO prekey_uses (k, grp, v) VALUES (?, ?, ?) ON CONFLICT (k) DO NOTHING`, k, t.hash("prekeys", key), v)
	if err != nil {
		return false, fmt.Errorf("recording a prekey use: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// PreKeyIDs returns the IDs of the stored prekeys of kind, ascending.
func (t *Tx) PreKeyIDs(kind PreKeyKind) ([]uint32, error) {
	if !kind.valid() {
		return nil, invalid("unknown prekey kind")
	}
	pairs, err := t.list("prekeys", t.hash("prekeys.grp", []byte{byte(kind)}))
	if err != nil {
		return nil, err
	}
	out := make([]uint32, 0, len(pairs))
	for _, p := range pairs {
		if len(p.key) != 5 || PreKeyKind(p.key[0]) != kind {
			return nil, corrupt("prekey row holds another kind", nil)
		}
		out = append(out, binary.BigEndian.Uint32(p.key[1:]))
	}
	slices.Sort(out)
	return out, nil
}
