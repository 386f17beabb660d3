package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/skymsg/sky/server/store"
)

// WriteBatch implements store.Queue: every acknowledgement and message of
// the batch in one transaction, hence one fsync.
func (s *Store) WriteBatch(ctx context.Context, b *store.Batch) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		b.Seqs = make([]uint64, len(b.Messages))
		b.Errs = make([]error, len(b.Messages))
		if err := s.applyAcks(ctx, tx, b.Acks); err != nil {
			return err
		}
		return s.insertMessages(ctx, tx, b)
	})
	if err != nil {
		b.Seqs, b.Errs = nil, nil
		return fmt.Errorf("sqlite: write batch: %w", err)
	}
	return nil
}

func (s *Store) applyAcks(ctx context.Context, tx *sql.Tx, acks []store.Ack) error {
	if len(acks) == 0 {
		return nil
	}
	del := tx.StmtContext(ctx, s.deleteAck)
	deleted := map[store.Address]int64{}
	for _, a := range acks {
		for _, seq := range a.Seqs {
			res, err := del.ExecContext(ctx, int64(seq), a.To.Account, a.To.Device)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			deleted[a.To] += n
		}
	}
	return s.adjustQueued(ctx, tx, deleted, -1)
}

// adjustQueued adds sign*n to each device's queued count.
func (s *Store) adjustQueued(ctx context.Context, tx *sql.Tx, counts map[store.Address]int64, sign int64) error {
	adjust := tx.StmtContext(ctx, s.adjust)
	for a, n := range counts {
		if n == 0 {
			continue
		}
		if _, err := adjust.ExecContext(ctx, sign*n, a.Account, a.Device); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) insertMessages(ctx context.Context, tx *sql.Tx, b *store.Batch) error {
	if len(b.Messages) == 0 {
		return nil
	}
	ins := tx.StmtContext(ctx, s.insert)
	queuedStmt := tx.StmtContext(ctx, s.queued)
	room := map[store.Address]int64{} // -1: no such device
	added := map[store.Address]int64{}
	for i, m := range b.Messages {
		r, ok := room[m.To]
		if !ok {
			var queued int64
			err := queuedStmt.QueryRowContext(ctx, m.To.Account, m.To.Device).Scan(&queued)
			switch {
			case err == sql.ErrNoRows:
				r = -1
			case err != nil:
				return err
			default:
				r = max(int64(b.QueueCap)-queued, 0)
			}
		}
		switch {
		case r < 0:
			b.Errs[i] = store.ErrNotFound
		case r == 0:
			b.Errs[i] = store.ErrQueueFull
		default:
			var sender any
			var senderDev any
			if !m.From.IsZero() {
				sender, senderDev = m.From.Account, m.From.Device
			}
			res, err := ins.ExecContext(ctx, m.To.Account, m.To.Device, sender, senderDev, m.Received.Unix(), m.Body)
			if err != nil {
				return err
			}
			seq, err := res.LastInsertId()
			if err != nil {
				return err
			}
			b.Seqs[i] = uint64(seq)
			r--
			added[m.To]++
		}
		room[m.To] = r
	}
	return s.adjustQueued(ctx, tx, added, 1)
}

// Pending implements store.Queue.
func (s *Store) Pending(ctx context.Context, a store.Address, after uint64, cutoff time.Time, limit int) ([]store.Message, error) {
	rows, err := s.pending.QueryContext(ctx, a.Account, a.Device, int64(after), cutoff.Unix(), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending: %w", err)
	}
	defer rows.Close()
	var out []store.Message
	for rows.Next() {
		var (
			m         = store.Message{To: a}
			seq, recv int64
			sender    sql.NullString
			senderDev sql.NullInt64
		)
		if err := rows.Scan(&seq, &sender, &senderDev, &recv, &m.Body); err != nil {
			return nil, fmt.Errorf("sqlite: pending: %w", err)
		}
		m.Seq, m.Received = uint64(seq), time.Unix(recv, 0).UTC()
		if sender.Valid {
			m.From = store.Address{Account: sender.String, Device: uint32(senderDev.Int64)}
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: pending: %w", err)
	}
	return out, nil
}

// sweepChunk bounds how many rows one sweep transaction deletes, so the
// sweeper never holds the writer for long.
const sweepChunk = 5000

// Sweep implements store.Queue.
func (s *Store) Sweep(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.tx(ctx, func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, `DELETE FROM messages WHERE seq IN
				(SELECT seq FROM messages WHERE received <= ? LIMIT ?) RETURNING account, device`, cutoff.Unix(), sweepChunk)
			if err != nil {
				return err
			}
			counts := map[store.Address]int64{}
			for rows.Next() {
				var a store.Address
				if err := rows.Scan(&a.Account, &a.Device); err != nil {
					rows.Close()
					return err
				}
				counts[a]++
				n++
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			return s.adjustQueued(ctx, tx, counts, -1)
		})
		if err != nil {
			return total, fmt.Errorf("sqlite: sweep: %w", err)
		}
		total += n
		if n < sweepChunk {
			return total, nil
		}
	}
}
