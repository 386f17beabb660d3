package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/skymsg/sky/server/store"
)

// SetDeliveryVerifier implements store.Sealed.
func (s *Store) SetDeliveryVerifier(ctx context.Context, account string, v []byte) error {
	var val any
	if v != nil {
		val = v
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET delivery_verifier = ? WHERE id = ?`, val, account)
		if err != nil {
			return fmt.Errorf("sqlite: set delivery verifier: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}

// DeliveryVerifier implements store.Sealed.
func (s *Store) DeliveryVerifier(ctx context.Context, account string) ([]byte, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, `SELECT delivery_verifier FROM accounts WHERE id = ?`, account).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: delivery verifier: %w", err)
	}
	return v, nil
}

// Meta implements store.Sealed.
func (s *Store) Meta(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: meta %q: %w", name, err)
	}
	return v, nil
}

// SetMeta implements store.Sealed.
func (s *Store) SetMeta(ctx context.Context, name string, value []byte) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (name, value) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value); err != nil {
			return fmt.Errorf("sqlite: set meta %q: %w", name, err)
		}
		return nil
	})
}
