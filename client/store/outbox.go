package store

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/skymsg/sky/client/store/envelope"
)

// The outgoing queue. An item that carries a message (MessageRef) is sealed
// under that message's key, so it is destroyed with the message; others are
// sealed under the data key.

func outboxAD(id int64) []byte { return envelope.AD("outbox", "v", envelope.RowID(id)) }

// sealerFor returns the sealer for an item: the message's key or the data
// key.
func (t *Tx) sealerFor(msgRef int64) (*envelope.Sealer, error) {
	if msgRef == 0 {
		return t.s.seal, nil
	}
	var kv []byte
	err := t.queryRow(`SELECT v FROM message_keys WHERE id = ?`, msgRef).Scan(&kv)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: the queued item's message does not exist (it may have expired)", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading a message key: %w", err)
	}
	mk, err := t.openMessageKey(msgRef, kv)
	if err != nil {
		return nil, err
	}
	defer mk.Key.Zero()
	return envelope.NewSealer(&mk.Key), nil
}

// Enqueue appends o to the outgoing queue and sets o.ID.
func (t *Tx) Enqueue(o *Outgoing) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := checkOutgoing(o); err != nil {
		return err
	}
	sealer, err := t.sealerFor(o.MessageRef)
	if err != nil {
		return err
	}
	var msg any
	if o.MessageRef != 0 {
		msg = o.MessageRef
	}
	res, err := t.exec(`INSERT INTO outbox (msg, v) VALUES (?, x'')`, msg)
	if err != nil {
		return fmt.Errorf("queueing an item: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("queueing an item: %w", err)
	}
	if err := t.writeOutgoing(id, sealer, o); err != nil {
		return err
	}
	o.ID = id
	return nil
}

func checkOutgoing(o *Outgoing) error {
	switch {
	case o.To == "":
		return invalid("the queued item has no recipient")
	case o.MessageRef < 0 || o.Attempts < 0:
		return invalid("the queued item has a negative field")
	case !validTime(o.CreatedAt):
		return invalid("the queued item's time is outside 1970..2262")
	}
	return nil
}

func (t *Tx) writeOutgoing(id int64, sealer *envelope.Sealer, o *Outgoing) error {
	pt := encodeOutgoing(o)
	v := sealer.Seal(outboxAD(id), pt)
	clear(pt)
	if _, err := t.exec(`UPDATE outbox SET v = ? WHERE id = ?`, v, id); err != nil {
		return fmt.Errorf("queueing an item: %w", err)
	}
	return nil
}

// Outbox returns the queued items in the order they were queued.
func (t *Tx) Outbox() ([]Outgoing, error) {
	rows, err := t.query(`SELECT o.id, o.msg, o.v, k.v FROM outbox o LEFT JOIN message_keys k ON k.id = o.msg ORDER BY o.id`)
	if err != nil {
		return nil, fmt.Errorf("reading the outgoing queue: %w", err)
	}
	defer rows.Close()
	var out []Outgoing
	for rows.Next() {
		var id int64
		var msg sql.NullInt64
		var v, kv []byte
		if err := rows.Scan(&id, &msg, &v, &kv); err != nil {
			return nil, fmt.Errorf("reading the outgoing queue: %w", err)
		}
		o, err := t.openOutgoing(id, msg, v, kv)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the outgoing queue: %w", err)
	}
	return out, nil
}

// OutgoingItem returns queued item id, or ErrNotFound once it left the
// queue.
func (t *Tx) OutgoingItem(id int64) (Outgoing, error) {
	var msg sql.NullInt64
	var v, kv []byte
	err := t.queryRow(`SELECT o.msg, o.v, k.v FROM outbox o LEFT JOIN message_keys k ON k.id = o.msg WHERE o.id = ?`, id).Scan(&msg, &v, &kv)
	if errors.Is(err, sql.ErrNoRows) {
		return Outgoing{}, ErrNotFound
	}
	if err != nil {
		return Outgoing{}, fmt.Errorf("reading the outgoing queue: %w", err)
	}
	return t.openOutgoing(id, msg, v, kv)
}

func (t *Tx) openOutgoing(id int64, msg sql.NullInt64, v, kv []byte) (Outgoing, error) {
	sealer := t.s.seal
	if msg.Valid {
		if kv == nil {
			return Outgoing{}, corrupt("queued item without its message key", nil)
		}
		mk, err := t.openMessageKey(msg.Int64, kv)
		if err != nil {
			return Outgoing{}, err
		}
		sealer = envelope.NewSealer(&mk.Key)
		mk.Key.Zero()
	}
	pt, err := sealer.Open(outboxAD(id), v)
	if err != nil {
		return Outgoing{}, corrupt("queued item", err)
	}
	o, err := decodeOutgoing(pt)
	clear(pt)
	if err != nil {
		return Outgoing{}, corrupt("queued item", err)
	}
	if o.MessageRef != msg.Int64 {
		return Outgoing{}, corrupt("queued item names another message", nil)
	}
	o.ID = id
	return o, nil
}

// UpdateOutgoing rewrites item o.ID (for example its attempt count). Its
// message reference cannot change.
func (t *Tx) UpdateOutgoing(o Outgoing) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := checkOutgoing(&o); err != nil {
		return err
	}
	var msg sql.NullInt64
	err := t.queryRow(`SELECT msg FROM outbox WHERE id = ?`, o.ID).Scan(&msg)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("reading the outgoing queue: %w", err)
	}
	if msg.Int64 != o.MessageRef {
		return invalid("a queued item's message reference cannot change")
	}
	sealer, err := t.sealerFor(o.MessageRef)
	if err != nil {
		return err
	}
	return t.writeOutgoing(o.ID, sealer, &o)
}

// Dequeue removes item id (sent, or given up); a missing one is not an error.
// When it was the last item of an outgoing message with a timer, that
// message's countdown starts now (the store's clock): the sender's copy counts
// from sending, not from queueing.
func (t *Tx) Dequeue(id int64) error {
	if err := t.writable(); err != nil {
		return err
	}
	var msg sql.NullInt64
	err := t.queryRow(`SELECT msg FROM outbox WHERE id = ?`, id).Scan(&msg)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the outgoing queue: %w", err)
	}
	if _, err := t.exec(`DELETE FROM outbox WHERE id = ?`, id); err != nil {
		return fmt.Errorf("removing a queued item: %w", err)
	}
	t.scrub = true
	if msg.Valid {
		return t.startSentCountdown(msg.Int64)
	}
	return nil
}

// queued reports whether message id still has items in the outgoing queue.
func (t *Tx) queued(id int64) (bool, error) {
	var one int
	err := t.queryRow(`SELECT 1 FROM outbox WHERE msg = ? LIMIT 1`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading the outgoing queue: %w", err)
	}
	return true, nil
}

// startSentCountdown starts the timer of outgoing message id once nothing
// of it is queued any more, unless it runs already, the message failed (it
// stays until dismissed) or it was never sent.
func (t *Tx) startSentCountdown(id int64) error {
	if q, err := t.queued(id); err != nil || q {
		return err
	}
	m, mk, _, err := t.loadMessage(id)
	defer mk.Key.Zero()
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !m.Outgoing || m.Timer <= 0 || mk.ExpiresAt != 0 || m.State == Pending || m.State == Failed {
		return nil
	}
	mk.ExpiresAt = t.s.now().Add(m.Timer).UnixNano()
	return t.writeMessageKey(id, &mk)
}
