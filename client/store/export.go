package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/skymsg/sky/client/store/envelope"
)

// Export and import of the store's records, for encrypted backups (package
// client/backup). Dump opens every record the account needs on another
// machine and hands it over in the clear; Load writes such records into a
// new store under that store's own keys (a restored store shares no key
// with the one backed up).
//
// Left out of a dump: the sessions (a restored device starts new ones: old
// ratchet states may have moved on since, and reusing one would repeat
// message keys), the outgoing queue (its items are sealed for those
// sessions), the store's own records (its check value and panic state: the
// restored store gets its own passphrase and no panic passphrase until the
// user sets one), and messages whose deadline has passed.

// DumpTables are the key-value tables Dump reads and Load writes, in order.
var DumpTables = []string{"kv", "identities", "prekeys", "prekey_uses", "contacts", "requests", "conversations", "seen"}

// Dump calls row for every record of DumpTables and msg for every message
// whose deadline is after now (oldest first), all in one read transaction,
// so the dump is one consistent snapshot. Memory stays bounded: rows are
// opened one at a time. The values passed are valid only during the call.
// A message still Pending (its queued items are not dumped) is handed over
// as Failed, so that the user sees it was not sent and can send it again.
func (s *Store) Dump(now time.Time, row func(table string, key, value []byte) error, msg func(*Message) error) error {
	return s.View(func(t *Tx) error {
		for _, table := range DumpTables {
			if err := t.dumpTable(table, row); err != nil {
				return err
			}
		}
		return t.dumpMessages(now, msg)
	})
}

func (t *Tx) dumpTable(table string, fn func(table string, key, value []byte) error) error {
	q := `SELECT k, v FROM ` + table + ` ORDER BY k`
	if table == "seen" { // the dedupe record is in two tables (seen.go)
		q = `SELECT k, v FROM seen UNION ALL SELECT k, v FROM seen_log ORDER BY k`
	}
	rows, err := t.query(q)
	if err != nil {
		return fmt.Errorf("reading the store (%s): %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return fmt.Errorf("reading the store (%s): %w", table, err)
		}
		pt, err := t.s.seal.Open(envelope.AD(table, "v", k), v)
		if err != nil {
			return corrupt(table+" value", err)
		}
		key, value, err := decodeDumped(table, pt)
		if err == nil && !bytes.Equal(t.hash(table, key), k) {
			err = corrupt(table+" row holds another record", nil)
		}
		if err == nil && !(table == "kv" && !dumpedKV(key)) {
			err = fn(table, key, value)
		}
		clear(pt)
		if err != nil {
			return err
		}
	}
	return rows.Err()
}

// decodeDumped decodes a row's plaintext into its key and value. The dedupe
// record (seen) holds an ID and a time; its value in a dump is the time in
// unix nanoseconds, 8 bytes big-endian.
func decodeDumped(table string, pt []byte) (key, value []byte, err error) {
	if table != "seen" {
		return decodeKV(pt)
	}
	id, at, err := decodeSeen(pt)
	return []byte(id), binary.BigEndian.AppendUint64(nil, uint64(at)), err
}

// dumpedKV reports whether a kv record goes into a dump: the account, the
// identity and the SDK's settings do; the store's check value and panic
// state do not.
func dumpedKV(key []byte) bool {
	k := string(key)
	return k == string(kvAccount) || k == string(kvIdentity) || strings.HasPrefix(k, "setting/")
}

func (t *Tx) dumpMessages(now time.Time, fn func(*Message) error) error {
	rows, err := t.query(`SELECT m.id, m.conv, m.v, k.v FROM messages m JOIN message_keys k ON k.id = m.id ORDER BY m.id`)
	if err != nil {
		return fmt.Errorf("reading messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var conv, v, kv []byte
		if err := rows.Scan(&id, &conv, &v, &kv); err != nil {
			return fmt.Errorf("reading messages: %w", err)
		}
		m, mk, err := t.openMessage(id, conv, v, kv)
		mk.Key.Zero()
		if err != nil {
			return err
		}
		if !m.ExpiresAt.IsZero() && !m.ExpiresAt.After(now) {
			continue // its timer has run out: never in a backup
		}
		if m.Outgoing && m.State == Pending {
			m.State, m.Failure = Failed, "not sent before the backup this account was restored from; send it again"
			m.ExpiresAt = time.Time{}
		}
		err = fn(&m)
		m.Body.Zero()
		m.Annex.Zero()
		if err != nil {
			return err
		}
	}
	return rows.Err()
}

// Load writes one record of a dump. The table must be one of DumpTables; a
// kv record must be one Dump hands over. Group hashes are recomputed under
// this store's keys. It is for restoring into a new store: it replaces a
// record with the same key.
func (t *Tx) Load(table string, key, value []byte) error {
	if len(key) == 0 {
		return invalid("a loaded record has no key")
	}
	var grp []byte
	switch table {
	case "kv":
		if !dumpedKV(key) {
			return invalid("a loaded kv record is not one a backup holds")
		}
	case "identities":
		a, ok := addressFromKey(key)
		if !ok || a.Name == "" {
			return invalid("a loaded identity has no address")
		}
		grp = t.hash("identities.grp", []byte(a.Name))
	case "prekeys":
		if len(key) != 5 || !PreKeyKind(key[0]).valid() {
			return invalid("a loaded prekey has a malformed key")
		}
		grp = t.hash("prekeys.grp", key[:1])
	case "prekey_uses":
		if len(key) <= 5 || !PreKeyKind(key[0]).valid() {
			return invalid("a loaded prekey use has a malformed key")
		}
		grp = t.hash("prekeys", key[:5])
	case "seen":
		if len(value) != 8 {
			return invalid("a loaded dedupe record has a malformed time")
		}
		at := int64(binary.BigEndian.Uint64(value))
		if at <= 0 {
			return invalid("a loaded dedupe record has a malformed time")
		}
		_, err := t.MarkSeen(string(key), fromNanos(at))
		return err
	case "contacts", "requests", "conversations":
	default:
		return invalid("a loaded record names an unknown table")
	}
	return t.put(table, key, grp, value)
}

// LoadMessage writes a message of a dump under its own number (m.ID), with
// its deadline as it is (no countdown is started or moved), under a new
// message key. A message whose deadline is at or before now is refused:
// nothing is restored past its timer.
func (t *Tx) LoadMessage(m *Message, now time.Time) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := checkMessage(m); err != nil {
		return err
	}
	if m.ID <= 0 {
		return invalid("a loaded message has no number")
	}
	if !m.ExpiresAt.IsZero() && !m.ExpiresAt.After(now) {
		return invalid("a loaded message's deadline has passed")
	}
	if m.Outgoing && m.State == Pending {
		return invalid("a loaded message is pending but nothing is queued for it")
	}
	conv := t.hash("messages.conv", []byte(m.Conversation))
	var mid []byte
	if m.MessageID != "" {
		mid = t.hash("messages.mid", []byte(m.Conversation), []byte(m.MessageID))
	}
	t.nextMsg = 0 // looked up again after a message of a given number
	if _, err := t.exec(`INSERT INTO messages (id, conv, mid, v) VALUES (?, ?, ?, x'')`, m.ID, conv, mid); err != nil {
		return fmt.Errorf("writing a message: %w", err)
	}
	mk := messageKey{Key: envelope.NewKey(), ExpiresAt: toNanos(m.ExpiresAt)}
	defer mk.Key.Zero()
	if err := t.writeMessage(m.ID, conv, m, &mk.Key); err != nil {
		return err
	}
	return t.writeMessageKey(m.ID, &mk)
}
