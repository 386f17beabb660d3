package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/skymsg/sky/server/store"
)

// WriteBatch implements store.Queue: every acknowledgement and message of
// the batch in one transaction, durable when it returns.
func (s *Store) WriteBatch(ctx context.Context, b *store.Batch) error {
	wait, err := s.CommitBatch(ctx, b)
	if err != nil {
		return err
	}
	return wait()
}

// CommitBatch implements store.PipelinedQueue: it commits b in one
// transaction and returns before the commit is durable; wait returns once it
// is. Pending returns none of b's messages before then.
func (s *Store) CommitBatch(ctx context.Context, b *store.Batch) (wait func() error, err error) {
	// Hot-path statements are short and not worth interrupting: with a
	// context that can be cancelled, the driver starts a goroutine per
	// statement to watch it.
	ctx = context.WithoutCancel(ctx)
	s.queueMu.Lock()
	defer s.queueMu.Unlock()
	counts, lasts := map[store.Address]int64{}, map[store.Address]uint64{}
	t, err := s.commitTx(ctx, func(tx *sql.Tx) error {
		b.Seqs = make([]uint64, len(b.Messages))
		b.Prevs = make([]uint64, len(b.Messages))
		b.Errs = make([]error, len(b.Messages))
		if err := s.applyAcks(ctx, tx, b.Acks, counts); err != nil {
			return err
		}
		return s.insertMessages(ctx, tx, b, counts, lasts)
	}, func() uint64 { return slices.Max(append(b.Seqs, 0)) })
	if err != nil {
		b.Seqs, b.Prevs, b.Errs = nil, nil, nil
		return nil, fmt.Errorf("sqlite: write batch: %w", err)
	}
	for a, n := range counts {
		s.queued[a] = n
	}
	for a, seq := range lasts {
		s.last[a] = seq
	}
	return func() error {
		if err := s.sync.wait(t); err != nil {
			return fmt.Errorf("sqlite: write batch: %w", err)
		}
		return nil
	}, nil
}

// The number of messages queued for each device is kept in memory
// (s.queued, under s.queueMu), read from the messages table the first time
// a device receives, and updated after every commit; so is the newest
// sequence number committed for it (s.last, for Batch.Prevs). All writes go through
// this Store, so it stays exact, and enforcing the queue cap costs no
// statement per device per batch. Every write to messages holds s.queueMu
// from its transaction to the cache update after its commit.

// queuedNow returns a's queue length as seen inside tx (including tx's own
// changes so far), or ok false if there is no such device. Reading it from
// the table, it also reads into lasts the newest sequence number queued for
// a.
func (s *Store) queuedNow(ctx context.Context, tx *sql.Tx, a store.Address, counts map[store.Address]int64, lasts map[store.Address]uint64) (n int64, ok bool, err error) {
	if n, ok := counts[a]; ok {
		return n, true, nil
	}
	if n, ok := s.queued[a]; ok {
		return n, true, nil
	}
	var last int64
	err = tx.StmtContext(ctx, s.countQueued).QueryRowContext(ctx, a.Account, a.Device).Scan(&n, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	counts[a], lasts[a] = n, uint64(last)
	return n, true, nil
}

// setPrevs fills b.Prevs for the accepted messages (in batch order) and
// records in lasts the newest sequence number of each recipient.
func (s *Store) setPrevs(b *store.Batch, accepted []int, lasts map[store.Address]uint64) {
	for _, i := range accepted {
		to := b.Messages[i].To
		prev, ok := lasts[to]
		if !ok {
			prev = s.last[to]
		}
		b.Prevs[i], lasts[to] = prev, b.Seqs[i]
	}
}

// deleteSizes are the sequence-number counts of the prepared DELETE
// statements; a device's acknowledgements go out with the largest that fit
// (one statement per message would cost more than the deletion itself).
var deleteSizes = []int{32, 8, 2, 1}

func (s *Store) applyAcks(ctx context.Context, tx *sql.Tx, acks []store.Ack, counts map[store.Address]int64) error {
	if len(acks) == 0 {
		return nil
	}
	// Merge the batch's acknowledgements per device, so that each device's
	// sequence numbers go out in full statements.
	seqs := map[store.Address][]uint64{}
	var order []store.Address
	for _, a := range acks {
		if _, ok := seqs[a.To]; !ok {
			order = append(order, a.To)
		}
		seqs[a.To] = append(seqs[a.To], a.Seqs...)
	}
	args := make([]any, 0, 2+deleteSizes[0])
	stmts := map[int]*sql.Stmt{}
	for _, to := range order {
		var deleted int64
		for list := seqs[to]; len(list) > 0; {
			size := deleteSizes[len(deleteSizes)-1]
			for _, sz := range deleteSizes {
				if sz <= len(list) {
					size = sz
					break
				}
			}
			args = append(args[:0], to.Account, to.Device)
			for _, seq := range list[:size] {
				args = append(args, int64(seq))
			}
			st := stmts[size]
			if st == nil {
				st = tx.StmtContext(ctx, s.deletes[size])
				stmts[size] = st
			}
			res, err := st.ExecContext(ctx, args...)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			deleted += k
			list = list[size:]
		}
		if deleted == 0 {
			continue
		}
		if n, ok := counts[to]; ok {
			counts[to] = max(n-deleted, 0)
		} else if n, ok := s.queued[to]; ok {
			counts[to] = max(n-deleted, 0)
		}
		// Otherwise the count is read later in this transaction, after
		// the deletion.
	}
	return nil
}

// insertSizes are the row counts of the prepared multi-row INSERT
// statements; a run of messages is inserted with the largest that fit.
var insertSizes = []int{64, 16, 4, 1}

func (s *Store) insertMessages(ctx context.Context, tx *sql.Tx, b *store.Batch, counts map[store.Address]int64, lasts map[store.Address]uint64) error {
	if len(b.Messages) == 0 {
		return nil
	}
	accepted := make([]int, 0, len(b.Messages))
	for i, m := range b.Messages {
		n, ok, err := s.queuedNow(ctx, tx, m.To, counts, lasts)
		switch {
		case err != nil:
			return err
		case !ok:
			b.Errs[i] = store.ErrNotFound
		case n >= int64(b.QueueCap):
			b.Errs[i] = store.ErrQueueFull
		default:
			accepted = append(accepted, i)
			counts[m.To] = n + 1
		}
	}
	defer s.setPrevs(b, accepted, lasts) // once every accepted message has its Seq
	args := make([]any, 0, min(len(accepted), insertSizes[0])*4)
	stmts := map[int]*sql.Stmt{}
	for len(accepted) > 0 {
		k := 1
		for _, size := range insertSizes {
			if size <= len(accepted) {
				k = size
				break
			}
		}
		args = args[:0]
		for _, i := range accepted[:k] {
			m := &b.Messages[i]
			args = append(args, m.To.Account, m.To.Device, m.Received.Unix(), m.Body)
		}
		st := stmts[k]
		if st == nil {
			st = tx.StmtContext(ctx, s.inserts[k])
			stmts[k] = st
		}
		res, err := st.ExecContext(ctx, args...)
		if err != nil {
			return err
		}
		last, err := res.LastInsertId()
		if err != nil {
			return err
		}
		// The rows of one INSERT get consecutive sequence numbers in VALUES
		// order: SQLite gives each AUTOINCREMENT row the largest number
		// ever used plus one, and this connection is the only writer.
		for j, i := range accepted[:k] {
			b.Seqs[i] = uint64(last - int64(k-1-j))
		}
		accepted = accepted[k:]
	}
	return nil
}

// Pending implements store.Queue.
func (s *Store) Pending(ctx context.Context, a store.Address, after uint64, cutoff time.Time, limit int) ([]store.Message, error) {
	// Committed messages not yet on disk are left for later: the push
	// that follows their commit delivers them.
	durable := s.sync.durableSeq.Load()
	rows, err := s.pending.QueryContext(context.WithoutCancel(ctx), a.Account, a.Device, int64(after), int64(durable), cutoff.Unix(), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending: %w", err)
	}
	defer rows.Close()
	var out []store.Message
	for rows.Next() {
		var (
			m         = store.Message{To: a}
			seq, recv int64
		)
		if err := rows.Scan(&seq, &recv, &m.Body); err != nil {
			return nil, fmt.Errorf("sqlite: pending: %w", err)
		}
		m.Seq, m.Received = uint64(seq), time.Unix(recv, 0).UTC()
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
		counts := map[store.Address]int64{}
		s.queueMu.Lock()
		err := s.tx(ctx, func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, `DELETE FROM messages WHERE seq IN
				(SELECT seq FROM messages WHERE received <= ? LIMIT ?) RETURNING account, device`, cutoff.Unix(), sweepChunk)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var a store.Address
				if err := rows.Scan(&a.Account, &a.Device); err != nil {
					return err
				}
				counts[a]++
				n++
			}
			return rows.Err()
		})
		if err == nil {
			for a, k := range counts {
				if q, ok := s.queued[a]; ok {
					s.queued[a] = max(q-k, 0)
				}
			}
		}
		s.queueMu.Unlock()
		if err != nil {
			return total, fmt.Errorf("sqlite: sweep: %w", err)
		}
		total += n
		if n < sweepChunk {
			return total, nil
		}
	}
}
