package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/skymsg/sky/client/store/envelope"
)

// A message is two rows. messages(id, conv, mid, v): v is the sealed message
// under the message's own key, with associated data naming the row and the
// conversation hash; conv and mid are lookup hashes of the conversation and
// of (conversation, sender's message ID). message_keys(id, v): the message
// key and expiry, sealed under the data key. Expiry deletes both rows and
// checkpoints; the key is then gone from the database, its WAL and (as far as
// the file system lets a program say so) the disk.

var (
	minTime = time.Unix(0, 1)
	maxTime = time.Unix(0, 1<<63-1)
)

func validTime(t time.Time) bool {
	return t.IsZero() || (!t.Before(minTime) && !t.After(maxTime))
}

func checkMessage(m *Message) error {
	switch {
	case m.Conversation == "":
		return invalid("the message has no conversation")
	case m.Timer < 0:
		return invalid("the message timer is negative")
	case m.State > Failed:
		return invalid("unknown message state")
	case !validTime(m.SentAt) || !validTime(m.ReceivedAt) || !validTime(m.ReadAt) || !validTime(m.ExpiresAt):
		return invalid("a message time is outside 1970..2262")
	}
	return nil
}

func messageAD(id int64, conv []byte) []byte {
	return envelope.AD("messages", "v", append(envelope.RowID(id), conv...))
}

// AddMessage stores a new message and sets m.ID. For an outgoing message with
// a timer and no ExpiresAt that is already sent, the countdown starts at
// SentAt; a Pending one's starts when its last queued item is sent (Dequeue),
// so a message written offline never disappears unsent. An incoming one's
// starts at MarkRead; a Failed message has none (failedStays).
func (t *Tx) AddMessage(m *Message) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := checkMessage(m); err != nil {
		return err
	}
	if m.Outgoing && m.Timer > 0 && m.ExpiresAt.IsZero() && !m.SentAt.IsZero() && m.State != Pending {
		m.ExpiresAt = m.SentAt.Add(m.Timer)
	}
	failedStays(m)
	conv := t.hash("messages.conv", []byte(m.Conversation))
	var mid []byte
	if m.MessageID != "" {
		mid = t.hash("messages.mid", []byte(m.Conversation), []byte(m.MessageID))
	}
	// The row number is part of the associated data: it is worked out
	// first, so that the row is written once, sealed.
	id, err := t.nextMessageID()
	if err != nil {
		return err
	}
	mk := messageKey{Key: envelope.NewKey(), ExpiresAt: toNanos(m.ExpiresAt)}
	defer mk.Key.Zero()
	v := sealMessage(id, conv, m, &mk.Key)
	if _, err := t.exec(`INSERT INTO messages (id, conv, mid, v) VALUES (?, ?, ?, ?)`, id, conv, mid, v); err != nil {
		t.nextMsg = 0
		return fmt.Errorf("writing a message: %w", err)
	}
	t.nextMsg++
	if err := t.writeMessageKey(id, &mk); err != nil {
		return err
	}
	m.ID = id
	return nil
}

// nextMessageID returns the row number the next message gets: the one
// SQLite's AUTOINCREMENT would choose (past every number ever used, so that
// a deleted message's number never comes back), looked up once per
// transaction and counted on from there.
func (t *Tx) nextMessageID() (int64, error) {
	if t.nextMsg == 0 {
		var last int64
		err := t.queryRow(`SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0), coalesce((SELECT max(id) FROM messages), 0))`).Scan(&last)
		if err != nil {
			return 0, fmt.Errorf("writing a message: %w", err)
		}
		t.nextMsg = last + 1
	}
	return t.nextMsg, nil
}

// sealMessage encodes m and seals it under the message's own key, with
// its row number and conversation as associated data.
func sealMessage(id int64, conv []byte, m *Message, key *envelope.Key) []byte {
	pt := encodeMessage(m)
	defer clear(pt)
	return envelope.NewSealer(key).Seal(messageAD(id, conv), pt)
}

func (t *Tx) writeMessage(id int64, conv []byte, m *Message, key *envelope.Key) error {
	v := sealMessage(id, conv, m, key)
	if _, err := t.exec(`UPDATE messages SET v = ? WHERE id = ?`, v, id); err != nil {
		return fmt.Errorf("writing a message: %w", err)
	}
	return nil
}

func (t *Tx) writeMessageKey(id int64, mk *messageKey) error {
	pt := encodeMessageKey(mk)
	v := t.s.seal.Seal(envelope.AD("message_keys", "v", envelope.RowID(id)), pt)
	clear(pt)
	if _, err := t.exec(`INSERT INTO message_keys (id, v) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET v = excluded.v`, id, v); err != nil {
		return fmt.Errorf("writing a message key: %w", err)
	}
	t.setExpiry(id, mk.ExpiresAt)
	return nil
}

// loadMessage reads and opens message id, and returns its key too.
func (t *Tx) loadMessage(id int64) (Message, messageKey, []byte, error) {
	var conv, v, kv []byte
	err := t.queryRow(`SELECT m.conv, m.v, k.v FROM messages m JOIN message_keys k ON k.id = m.id WHERE m.id = ?`, id).Scan(&conv, &v, &kv)
	if errors.Is(err, sql.ErrNoRows) {
		return Message{}, messageKey{}, nil, ErrNotFound
	}
	if err != nil {
		return Message{}, messageKey{}, nil, fmt.Errorf("reading a message: %w", err)
	}
	m, mk, err := t.openMessage(id, conv, v, kv)
	return m, mk, conv, err
}

func (t *Tx) openMessage(id int64, conv, v, kv []byte) (Message, messageKey, error) {
	mk, err := t.openMessageKey(id, kv)
	if err != nil {
		return Message{}, messageKey{}, err
	}
	pt, err := envelope.NewSealer(&mk.Key).Open(messageAD(id, conv), v)
	if err != nil {
		mk.Key.Zero()
		return Message{}, messageKey{}, corrupt("message", err)
	}
	m, err := decodeMessage(pt)
	clear(pt)
	if err != nil {
		mk.Key.Zero()
		return Message{}, messageKey{}, corrupt("message", err)
	}
	m.ID = id
	m.ExpiresAt = fromNanos(mk.ExpiresAt)
	return m, mk, nil
}

// Message returns message id, or ErrNotFound (also once it expired).
func (t *Tx) Message(id int64) (Message, error) {
	m, mk, _, err := t.loadMessage(id)
	mk.Key.Zero()
	return m, err
}

// FindMessage returns the message of conversation with the sender's
// messageID (for receipts), or ErrNotFound.
func (t *Tx) FindMessage(conversation, messageID string) (Message, error) {
	var id int64
	mid := t.hash("messages.mid", []byte(conversation), []byte(messageID))
	err := t.queryRow(`SELECT id FROM messages WHERE mid = ? ORDER BY id LIMIT 1`, mid).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return Message{}, ErrNotFound
	}
	if err != nil {
		return Message{}, fmt.Errorf("reading a message: %w", err)
	}
	return t.Message(id)
}

// Messages returns up to limit messages of conversation with an ID greater
// than after, oldest first (limit <= 0: all).
func (t *Tx) Messages(conversation string, after int64, limit int) ([]Message, error) {
	if limit <= 0 {
		limit = -1
	}
	return t.queryMessages(`SELECT m.id, m.conv, m.v, k.v FROM messages m JOIN message_keys k ON k.id = m.id
		WHERE m.conv = ? AND m.id > ? ORDER BY m.id LIMIT ?`, false, t.hash("messages.conv", []byte(conversation)), after, limit)
}

// LatestMessages returns the last limit messages of conversation, oldest
// first.
func (t *Tx) LatestMessages(conversation string, limit int) ([]Message, error) {
	if limit <= 0 {
		return nil, invalid("the message limit must be positive")
	}
	return t.queryMessages(`SELECT m.id, m.conv, m.v, k.v FROM messages m JOIN message_keys k ON k.id = m.id
		WHERE m.conv = ? ORDER BY m.id DESC LIMIT ?`, true, t.hash("messages.conv", []byte(conversation)), limit)
}

func (t *Tx) queryMessages(query string, reverse bool, args ...any) ([]Message, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, fmt.Errorf("reading messages: %w", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var id int64
		var conv, v, kv []byte
		if err := rows.Scan(&id, &conv, &v, &kv); err != nil {
			return nil, fmt.Errorf("reading messages: %w", err)
		}
		m, mk, err := t.openMessage(id, conv, v, kv)
		mk.Key.Zero()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading messages: %w", err)
	}
	if reverse {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, nil
}

// UpdateMessage rewrites message m.ID (its state, body, times, expiry). The
// conversation and message ID cannot change.
func (t *Tx) UpdateMessage(m Message) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := checkMessage(&m); err != nil {
		return err
	}
	old, mk, conv, err := t.loadMessage(m.ID)
	if err != nil {
		return err
	}
	defer mk.Key.Zero()
	if old.Conversation != m.Conversation || old.MessageID != m.MessageID {
		return invalid("a message's conversation and message ID cannot change")
	}
	failedStays(&m)
	if err := t.writeMessage(m.ID, conv, &m, &mk.Key); err != nil {
		return err
	}
	if at := toNanos(m.ExpiresAt); at != mk.ExpiresAt {
		mk.ExpiresAt = at
		return t.writeMessageKey(m.ID, &mk)
	}
	return nil
}

// MarkRead records that the user read message id at `at`: it sets ReadAt
// (once), moves an incoming message to Read and, if the message has a timer
// and no countdown yet, starts it (the recipient's copy counts from reading).
// It returns the updated message.
func (t *Tx) MarkRead(id int64, at time.Time) (Message, error) {
	m, err := t.Message(id)
	if err != nil {
		return Message{}, err
	}
	if m.ReadAt.IsZero() {
		m.ReadAt = at
	}
	if !m.Outgoing {
		m.State = Read
	}
	if m.Timer > 0 && m.ExpiresAt.IsZero() {
		m.ExpiresAt = m.ReadAt.Add(m.Timer)
	}
	return m, t.UpdateMessage(m)
}

// failedStays stops the countdown of an outgoing message that failed: it
// stays, with why, until the user dismisses it (DeleteMessage), so a
// failure is never hidden by the timer.
func failedStays(m *Message) {
	if m.Outgoing && m.State == Failed {
		m.ExpiresAt = time.Time{}
	}
}

// DeleteMessage destroys message id (its key first) and any queued item that
// carries it. Deleting a missing message is not an error.
func (t *Tx) DeleteMessage(id int64) error {
	if err := t.writable(); err != nil {
		return err
	}
	return t.deleteMessage(id)
}

func (t *Tx) deleteMessage(id int64) error {
	for _, q := range []string{
		`DELETE FROM message_keys WHERE id = ?`,
		`DELETE FROM outbox WHERE msg = ?`,
		`DELETE FROM messages WHERE id = ?`,
	} {
		if _, err := t.exec(q, id); err != nil {
			return fmt.Errorf("deleting a message: %w", err)
		}
	}
	t.setExpiry(id, 0)
	t.scrub = true
	return nil
}

// DeleteConversation destroys every message of conversation and its
// settings. Contacts and requests are kept.
func (t *Tx) DeleteConversation(conversation string) error {
	if err := t.writable(); err != nil {
		return err
	}
	rows, err := t.query(`SELECT id FROM messages WHERE conv = ?`, t.hash("messages.conv", []byte(conversation)))
	if err != nil {
		return fmt.Errorf("deleting a conversation: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("deleting a conversation: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("deleting a conversation: %w", err)
	}
	for _, id := range ids {
		if err := t.deleteMessage(id); err != nil {
			return err
		}
	}
	_, err = t.del("conversations", []byte(conversation))
	t.scrub = true
	return err
}
