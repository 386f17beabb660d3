package store

import (
	"container/heap"
	"fmt"
	"time"

	"github.com/skymsg/sky/client/store/envelope"
)

// expiryIndex knows when each message with a running timer expires. It lives
// in memory only (the expiry times are sealed on disk with the message keys)
// and is rebuilt from message_keys when the store opens. Guarded by Store.mu.
type expiryIndex struct {
	at map[int64]int64 // message ID -> expiry, unix nanoseconds
	h  expiryHeap      // may hold stale entries; at is the truth
}

type expiryEntry struct{ at, id int64 }

type expiryHeap []expiryEntry

func (h expiryHeap) Len() int { return len(h) }
func (h expiryHeap) Less(i, j int) bool {
	return h[i].at < h[j].at || (h[i].at == h[j].at && h[i].id < h[j].id)
}
func (h expiryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)   { *h = append(*h, x.(expiryEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// set records an expiry; 0 removes the message from the index.
func (x *expiryIndex) set(id, at int64) {
	if x.at == nil {
		x.at = make(map[int64]int64)
	}
	if at == 0 {
		delete(x.at, id)
		return
	}
	if x.at[id] == at {
		return
	}
	x.at[id] = at
	heap.Push(&x.h, expiryEntry{at, id})
}

func (x *expiryIndex) apply(changes map[int64]int64) {
	for id, at := range changes {
		x.set(id, at)
	}
}

// due returns the messages whose expiry is at or before now.
func (x *expiryIndex) due(now int64) []int64 {
	var ids []int64
	seen := map[int64]bool{}
	var keep []expiryEntry
	for x.h.Len() > 0 && x.h[0].at <= now {
		e := heap.Pop(&x.h).(expiryEntry)
		switch cur, ok := x.at[e.id]; {
		case !ok || seen[e.id]:
		case cur == e.at:
			ids = append(ids, e.id)
			seen[e.id] = true
			keep = append(keep, e) // removed from at on commit
		}
	}
	// Entries are only dropped from the heap for good once the deletion has
	// committed and removed them from at; put them back so a failed
	// transaction loses nothing.
	for _, e := range keep {
		heap.Push(&x.h, e)
	}
	return ids
}

// next returns the earliest expiry, 0 if none.
func (x *expiryIndex) next() int64 {
	for x.h.Len() > 0 {
		e := x.h[0]
		if cur, ok := x.at[e.id]; ok && cur == e.at {
			return e.at
		}
		heap.Pop(&x.h)
	}
	return 0
}

func (x *expiryIndex) reset() { *x = expiryIndex{} }

// loadExpiries rebuilds the expiry index from message_keys. A key row that
// does not open is left out here; reading its message reports ErrCorrupt.
func (t *Tx) loadExpiries() error {
	rows, err := t.query(`SELECT id, v FROM message_keys`)
	if err != nil {
		return fmt.Errorf("reading message keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var v []byte
		if err := rows.Scan(&id, &v); err != nil {
			return fmt.Errorf("reading message keys: %w", err)
		}
		mk, err := t.openMessageKey(id, v)
		if err != nil {
			continue
		}
		mk.Key.Zero()
		t.s.exp.set(id, mk.ExpiresAt)
	}
	return rows.Err()
}

// Expire destroys every message whose expiry is at or before now (the
// caller's clock, so tests can use a fake one): their keys and their sealed
// rows, then checkpoints the WAL so no copy remains in it. It reports how
// many went and when the next expires.
//
// A message that still has items in the outgoing queue is never destroyed
// by its timer (an outbox item leaves only by being sent or by the user
// deleting its message): its countdown stops, and starts again when its last
// item is sent (Dequeue). Stores written before countdowns waited for
// sending hold such messages.
func (s *Store) Expire(now time.Time) (Expired, error) {
	var res Expired
	err := s.Update(func(t *Tx) error {
		res = Expired{}
		for _, id := range t.s.exp.due(now.UnixNano()) {
			q, err := t.queued(id)
			if err != nil {
				return err
			}
			if q {
				if err := t.stopCountdown(id); err != nil {
					return err
				}
				res.Held++
				continue
			}
			if err := t.deleteMessage(id); err != nil {
				return err
			}
			res.Deleted++
		}
		return nil
	})
	if err != nil {
		return Expired{}, err
	}
	res.Next = s.NextExpiry()
	return res, nil
}

// stopCountdown clears message id's expiry.
func (t *Tx) stopCountdown(id int64) error {
	var kv []byte
	if err := t.queryRow(`SELECT v FROM message_keys WHERE id = ?`, id).Scan(&kv); err != nil {
		return fmt.Errorf("reading a message key: %w", err)
	}
	mk, err := t.openMessageKey(id, kv)
	if err != nil {
		return err
	}
	defer mk.Key.Zero()
	mk.ExpiresAt = 0
	return t.writeMessageKey(id, &mk)
}

// SetClock sets the clock that starts a sent message's countdown (Dequeue);
// the default is the system clock. The SDK passes its own, so that tests
// with a manual clock cross timers.
func (s *Store) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = now
}

// now is the store's clock; called with s.mu held.
func (s *Store) now() time.Time {
	if s.clock == nil {
		return time.Now()
	}
	return s.clock()
}

// NextExpiry returns when the next message expires, or the zero time.
func (s *Store) NextExpiry() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fromNanos(s.exp.next())
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// openMessageKey opens a row of message_keys.
func (t *Tx) openMessageKey(id int64, v []byte) (messageKey, error) {
	pt, err := t.s.seal.Open(envelope.AD("message_keys", "v", envelope.RowID(id)), v)
	if err != nil {
		return messageKey{}, corrupt("message key", err)
	}
	mk, err := decodeMessageKey(pt)
	clear(pt)
	if err != nil {
		return messageKey{}, corrupt("message key", err)
	}
	return mk, nil
}
