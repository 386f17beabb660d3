package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/skymsg/sky/server/store"
)

var _ store.KeyDir = (*Store)(nil)

// QueueKeyDir implements store.KeyDir.
func (s *Store) QueueKeyDir(ctx context.Context, p store.KeyDirPending) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO kt_pending (idx, value) VALUES (?, ?)
			ON CONFLICT (idx) DO UPDATE SET value = excluded.value`, p.Index, p.Value)
		if err != nil {
			return fmt.Errorf("sqlite: queue key directory value: %w", err)
		}
		return nil
	})
}

// PendingKeyDir implements store.KeyDir.
func (s *Store) PendingKeyDir(ctx context.Context, limit int) ([]store.KeyDirPending, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT idx, value FROM kt_pending ORDER BY idx LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending key directory values: %w", err)
	}
	defer rows.Close()
	var out []store.KeyDirPending
	for rows.Next() {
		var p store.KeyDirPending
		if err := rows.Scan(&p.Index, &p.Value); err != nil {
			return nil, fmt.Errorf("sqlite: pending key directory values: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PublishKeyDir implements store.KeyDir. SQLite has one writer at a time
// already; the epoch number's uniqueness is the check.
func (s *Store) PublishKeyDir(ctx context.Context, e store.KeyDirEpoch, values []store.KeyDirValue, published []store.KeyDirPending) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var next uint64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(epoch) + 1, 0) FROM kt_epochs`).Scan(&next); err != nil {
			return fmt.Errorf("sqlite: publish key directory: %w", err)
		}
		if next != e.Number {
			return store.ErrKeyDirConflict
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO kt_epochs (epoch, record, head) VALUES (?, ?, ?)`, e.Number, e.Record, e.Head); err != nil {
			return fmt.Errorf("sqlite: publish key directory: %w", err)
		}
		for _, v := range values {
			if _, err := tx.ExecContext(ctx, `INSERT INTO kt_values (idx, version, opening, value) VALUES (?, ?, ?, ?)`,
				v.Index, v.Version, v.Opening, v.Value); err != nil {
				return fmt.Errorf("sqlite: publish key directory: %w", err)
			}
		}
		for _, p := range published {
			if _, err := tx.ExecContext(ctx, `DELETE FROM kt_pending WHERE idx = ? AND value = ?`, p.Index, p.Value); err != nil {
				return fmt.Errorf("sqlite: publish key directory: %w", err)
			}
		}
		return nil
	})
}

// KeyDirEpochs implements store.KeyDir.
func (s *Store) KeyDirEpochs(ctx context.Context, from uint64, limit int) ([]store.KeyDirEpoch, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT epoch, record, head FROM kt_epochs WHERE epoch >= ? ORDER BY epoch LIMIT ?`, from, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: key directory epochs: %w", err)
	}
	defer rows.Close()
	var out []store.KeyDirEpoch
	for rows.Next() {
		var e store.KeyDirEpoch
		if err := rows.Scan(&e.Number, &e.Record, &e.Head); err != nil {
			return nil, fmt.Errorf("sqlite: key directory epochs: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// KeyDirValue implements store.KeyDir.
func (s *Store) KeyDirValue(ctx context.Context, index []byte, version uint32) (store.KeyDirValue, error) {
	v := store.KeyDirValue{Index: index, Version: version}
	err := s.r.QueryRowContext(ctx, `SELECT opening, value FROM kt_values WHERE idx = ? AND version = ?`, index, version).Scan(&v.Opening, &v.Value)
	if errors.Is(err, sql.ErrNoRows) {
		return v, store.ErrNotFound
	}
	if err != nil {
		return v, fmt.Errorf("sqlite: key directory value: %w", err)
	}
	return v, nil
}

// SetKeyDirCountersig implements store.KeyDir.
func (s *Store) SetKeyDirCountersig(ctx context.Context, c store.KeyDirCountersig) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO kt_countersigs (auditor, size, signature) VALUES (?, ?, ?)
			ON CONFLICT (auditor) DO UPDATE SET size = excluded.size, signature = excluded.signature
			WHERE excluded.size > kt_countersigs.size`, c.Auditor, c.Size, c.Signature)
		if err != nil {
			return fmt.Errorf("sqlite: key directory countersignature: %w", err)
		}
		return nil
	})
}

// KeyDirCountersigs implements store.KeyDir.
func (s *Store) KeyDirCountersigs(ctx context.Context) ([]store.KeyDirCountersig, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT auditor, size, signature FROM kt_countersigs ORDER BY auditor`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: key directory countersignatures: %w", err)
	}
	defer rows.Close()
	var out []store.KeyDirCountersig
	for rows.Next() {
		var c store.KeyDirCountersig
		if err := rows.Scan(&c.Auditor, &c.Size, &c.Signature); err != nil {
			return nil, fmt.Errorf("sqlite: key directory countersignatures: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
