package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/skymsg/sky/server/store"
)

// WriteBatch implements store.Queue: the whole batch in one transaction and
// a handful of round trips (arrays through unnest), however many messages
// it holds.
func (s *Store) WriteBatch(ctx context.Context, b *store.Batch) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		b.Seqs = make([]uint64, len(b.Messages))
		b.Prevs = make([]uint64, len(b.Messages))
		b.Errs = make([]error, len(b.Messages))
		delta, err := applyAcks(ctx, tx, b.Acks)
		if err != nil {
			return err
		}
		if err := insertMessages(ctx, tx, b, delta); err != nil {
			return err
		}
		return adjustQueued(ctx, tx, delta)
	})
	if err != nil {
		b.Seqs, b.Prevs, b.Errs = nil, nil, nil
		return fmt.Errorf("postgres: write batch: %w", err)
	}
	return nil
}

// applyAcks deletes acknowledged messages and returns, per device, minus
// the number deleted.
func applyAcks(ctx context.Context, tx pgx.Tx, acks []store.Ack) (map[store.Address]int64, error) {
	delta := map[store.Address]int64{}
	seqs := map[store.Address][]int64{}
	for _, a := range acks {
		for _, s := range a.Seqs {
			seqs[a.To] = append(seqs[a.To], int64(s))
		}
	}
	for _, a := range sortedAddrs(seqs) {
		tag, err := tx.Exec(ctx, `DELETE FROM messages WHERE account = $1 AND device = $2 AND seq = ANY($3)`, a.Account, int64(a.Device), seqs[a])
		if err != nil {
			return nil, err
		}
		delta[a] -= tag.RowsAffected()
	}
	return delta, nil
}

func sortedAddrs[V any](m map[store.Address]V) []store.Address {
	out := make([]store.Address, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y store.Address) int {
		return cmp.Or(cmp.Compare(x.Account, y.Account), cmp.Compare(x.Device, y.Device))
	})
	return out
}

// adjustQueued applies the per-device count changes, locking rows in a fixed
// order so concurrent batches from several nodes cannot deadlock.
func adjustQueued(ctx context.Context, tx pgx.Tx, delta map[store.Address]int64) error {
	var b pgx.Batch
	for _, a := range sortedAddrs(delta) {
		if delta[a] != 0 {
			b.Queue(`UPDATE devices SET queued = GREATEST(queued + $1, 0) WHERE account = $2 AND id = $3`, delta[a], a.Account, int64(a.Device))
		}
	}
	if b.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, &b).Close()
}

// insertMessages admits what fits under the queue cap and inserts it with
// one statement; delta gains the number added per device.
func insertMessages(ctx context.Context, tx pgx.Tx, b *store.Batch, delta map[store.Address]int64) error {
	if len(b.Messages) == 0 {
		return nil
	}
	room, err := queueRoom(ctx, tx, b, delta)
	if err != nil {
		return err
	}
	var admitted []int
	for i, m := range b.Messages {
		switch r := room[m.To]; {
		case r < 0:
			b.Errs[i] = store.ErrNotFound
		case r == 0:
			b.Errs[i] = store.ErrQueueFull
		default:
			room[m.To] = r - 1
			delta[m.To]++
			admitted = append(admitted, i)
		}
	}
	if len(admitted) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT nextval(pg_get_serial_sequence('messages', 'seq')) FROM generate_series(1, $1)`, len(admitted))
	if err != nil {
		return err
	}
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	slices.Sort(seqs)
	last, err := lastQueued(ctx, tx, b, admitted)
	if err != nil {
		return err
	}
	n := len(admitted)
	var (
		accts  = make([]string, n)
		devs   = make([]int64, n)
		recv   = make([]int64, n)
		bodies = make([][]byte, n)
	)
	for j, i := range admitted {
		m := b.Messages[i]
		b.Seqs[i] = uint64(seqs[j])
		b.Prevs[i], last[m.To] = last[m.To], b.Seqs[i]
		accts[j], devs[j], recv[j], bodies[j] = m.To.Account, int64(m.To.Device), m.Received.Unix(), m.Body
	}
	_, err = tx.Exec(ctx, `INSERT INTO messages (seq, account, device, received, body)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bytea[])`,
		seqs, accts, devs, recv, bodies)
	return err
}

// queueRoom returns, per recipient, how many more messages fit (-1: no such
// device), locking the device rows in a fixed order. It locks the devices
// that acknowledged (the keys of delta) in the same pass, so adjustQueued
// takes no lock out of that order and batches committed by several nodes at
// once cannot deadlock.
func queueRoom(ctx context.Context, tx pgx.Tx, b *store.Batch, delta map[store.Address]int64) (map[store.Address]int64, error) {
	room := map[store.Address]int64{}
	lock := map[store.Address]bool{}
	for _, m := range b.Messages {
		room[m.To] = -1
		lock[m.To] = true
	}
	for a := range delta {
		lock[a] = true
	}
	addrs := sortedAddrs(lock)
	var pb pgx.Batch
	for _, a := range addrs {
		pb.Queue(`SELECT queued FROM devices WHERE account = $1 AND id = $2 FOR UPDATE`, a.Account, int64(a.Device))
	}
	res := tx.SendBatch(ctx, &pb)
	defer res.Close()
	for _, a := range addrs {
		var queued int64
		err := res.QueryRow().Scan(&queued)
		if noRows(err) {
			continue
		} else if err != nil {
			return nil, err
		}
		if _, recipient := room[a]; !recipient {
			continue
		}
		room[a] = max(int64(b.QueueCap)-(queued+delta[a]), 0)
	}
	return room, res.Close()
}

// lastQueued returns the newest sequence number queued for each recipient
// of the admitted messages (0: none). It runs after queueRoom has locked
// their device rows, in statements of its own, so it sees every batch that
// held those locks before, also one committed by another process.
func lastQueued(ctx context.Context, tx pgx.Tx, b *store.Batch, admitted []int) (map[store.Address]uint64, error) {
	last := map[store.Address]uint64{}
	for _, i := range admitted {
		last[b.Messages[i].To] = 0
	}
	addrs := sortedAddrs(last)
	var pb pgx.Batch
	for _, a := range addrs {
		pb.Queue(`SELECT COALESCE(MAX(seq), 0) FROM messages WHERE account = $1 AND device = $2`, a.Account, int64(a.Device))
	}
	res := tx.SendBatch(ctx, &pb)
	defer res.Close()
	for _, a := range addrs {
		var seq int64
		if err := res.QueryRow().Scan(&seq); err != nil {
			return nil, err
		}
		last[a] = uint64(seq)
	}
	return last, res.Close()
}

// Pending implements store.Queue.
func (s *Store) Pending(ctx context.Context, a store.Address, after uint64, cutoff time.Time, limit int) ([]store.Message, error) {
	rows, err := s.db.Query(ctx, `SELECT seq, received, body FROM messages
		WHERE account = $1 AND device = $2 AND seq > $3 AND received > $4 ORDER BY seq LIMIT $5`,
		a.Account, int64(a.Device), int64(after), cutoff.Unix(), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: pending: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Message, error) {
		var (
			m         = store.Message{To: a}
			seq, recv int64
		)
		if err := r.Scan(&seq, &recv, &m.Body); err != nil {
			return m, err
		}
		m.Seq, m.Received = uint64(seq), time.Unix(recv, 0).UTC()
		return m, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: pending: %w", err)
	}
	return out, nil
}

// sweepChunk bounds how many rows one sweep transaction deletes.
const sweepChunk = 5000

// Sweep implements store.Queue.
func (s *Store) Sweep(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.tx(ctx, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `DELETE FROM messages WHERE seq IN
				(SELECT seq FROM messages WHERE received <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING account, device`, cutoff.Unix(), sweepChunk)
			if err != nil {
				return err
			}
			delta := map[store.Address]int64{}
			for rows.Next() {
				var (
					acct string
					dev  int64
				)
				if err := rows.Scan(&acct, &dev); err != nil {
					rows.Close()
					return err
				}
				delta[store.Address{Account: acct, Device: uint32(dev)}]--
				n++
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			return adjustQueued(ctx, tx, delta)
		})
		if err != nil {
			return total, fmt.Errorf("postgres: sweep: %w", err)
		}
		total += n
		if n < sweepChunk {
			return total, nil
		}
	}
}
