package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/skymsg/sky/server/store"
)

var _ store.KeyDir = (*Store)(nil)

// keyDirLock is the advisory lock key of the key directory's writer: each
// publish transaction takes it (pg_try_advisory_xact_lock), so one node at a
// time publishes and the others only follow. The epoch number being the
// primary key makes a second writer fail even without it.
const keyDirLock = 0x736b7974 // "skyt"

// QueueKeyDir implements store.KeyDir.
func (s *Store) QueueKeyDir(ctx context.Context, p store.KeyDirPending) error {
	_, err := s.db.Exec(ctx, `INSERT INTO kt_pending (idx, value) VALUES ($1, $2)
		ON CONFLICT (idx) DO UPDATE SET value = EXCLUDED.value`, p.Index, p.Value)
	if err != nil {
		return fmt.Errorf("postgres: queue key directory value: %w", err)
	}
	return nil
}

// PendingKeyDir implements store.KeyDir.
func (s *Store) PendingKeyDir(ctx context.Context, limit int) ([]store.KeyDirPending, error) {
	rows, err := s.db.Query(ctx, `SELECT idx, value FROM kt_pending ORDER BY idx LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: pending key directory values: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.KeyDirPending, error) {
		var p store.KeyDirPending
		return p, r.Scan(&p.Index, &p.Value)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: pending key directory values: %w", err)
	}
	return out, nil
}

// PublishKeyDir implements store.KeyDir.
func (s *Store) PublishKeyDir(ctx context.Context, e store.KeyDirEpoch, values []store.KeyDirValue, published []store.KeyDirPending) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var locked bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, keyDirLock).Scan(&locked); err != nil {
			return err
		}
		if !locked {
			return store.ErrKeyDirConflict
		}
		var next uint64
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(epoch) + 1, 0) FROM kt_epochs`).Scan(&next); err != nil {
			return err
		}
		if next != e.Number {
			return store.ErrKeyDirConflict
		}
		if _, err := tx.Exec(ctx, `INSERT INTO kt_epochs (epoch, record, head) VALUES ($1, $2, $3)`, e.Number, e.Record, e.Head); err != nil {
			return err
		}
		b := &pgx.Batch{}
		for _, v := range values {
			b.Queue(`INSERT INTO kt_values (idx, version, opening, value) VALUES ($1, $2, $3, $4)`, v.Index, v.Version, v.Opening, v.Value)
		}
		for _, p := range published {
			b.Queue(`DELETE FROM kt_pending WHERE idx = $1 AND value = $2`, p.Index, p.Value)
		}
		return tx.SendBatch(ctx, b).Close()
	})
	var pgErr *pgconn.PgError
	switch {
	case err == nil, errors.Is(err, store.ErrKeyDirConflict):
		return err
	case errors.As(err, &pgErr) && pgErr.Code == "23505": // unique_violation
		return store.ErrKeyDirConflict
	}
	return fmt.Errorf("postgres: publish key directory: %w", err)
}

// KeyDirEpochs implements store.KeyDir.
func (s *Store) KeyDirEpochs(ctx context.Context, from uint64, limit int) ([]store.KeyDirEpoch, error) {
	rows, err := s.db.Query(ctx, `SELECT epoch, record, head FROM kt_epochs WHERE epoch >= $1 ORDER BY epoch LIMIT $2`, from, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: key directory epochs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.KeyDirEpoch, error) {
		var e store.KeyDirEpoch
		return e, r.Scan(&e.Number, &e.Record, &e.Head)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: key directory epochs: %w", err)
	}
	return out, nil
}

// KeyDirValue implements store.KeyDir.
func (s *Store) KeyDirValue(ctx context.Context, index []byte, version uint32) (store.KeyDirValue, error) {
	v := store.KeyDirValue{Index: index, Version: version}
	err := s.db.QueryRow(ctx, `SELECT opening, value FROM kt_values WHERE idx = $1 AND version = $2`, index, version).Scan(&v.Opening, &v.Value)
	if noRows(err) {
		return v, store.ErrNotFound
	}
	if err != nil {
		return v, fmt.Errorf("postgres: key directory value: %w", err)
	}
	return v, nil
}

// SetKeyDirCountersig implements store.KeyDir.
func (s *Store) SetKeyDirCountersig(ctx context.Context, c store.KeyDirCountersig) error {
	_, err := s.db.Exec(ctx, `INSERT INTO kt_countersigs (auditor, size, signature) VALUES ($1, $2, $3)
		ON CONFLICT (auditor) DO UPDATE SET size = EXCLUDED.size, signature = EXCLUDED.signature
		WHERE EXCLUDED.size > kt_countersigs.size`, c.Auditor, c.Size, c.Signature)
	if err != nil {
		return fmt.Errorf("postgres: key directory countersignature: %w", err)
	}
	return nil
}

// KeyDirCountersigs implements store.KeyDir.
func (s *Store) KeyDirCountersigs(ctx context.Context) ([]store.KeyDirCountersig, error) {
	rows, err := s.db.Query(ctx, `SELECT auditor, size, signature FROM kt_countersigs ORDER BY auditor`)
	if err != nil {
		return nil, fmt.Errorf("postgres: key directory countersignatures: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.KeyDirCountersig, error) {
		var c store.KeyDirCountersig
		return c, r.Scan(&c.Auditor, &c.Size, &c.Signature)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: key directory countersignatures: %w", err)
	}
	return out, nil
}
