package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/skymsg/sky/server/store"
)

// SetDeliveryVerifier implements store.Sealed.
func (s *Store) SetDeliveryVerifier(ctx context.Context, account string, v []byte) error {
	tag, err := s.db.Exec(ctx, `UPDATE accounts SET delivery_verifier = $1 WHERE id = $2`, v, account)
	if err != nil {
		return fmt.Errorf("postgres: set delivery verifier: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// DeliveryVerifier implements store.Sealed.
func (s *Store) DeliveryVerifier(ctx context.Context, account string) ([]byte, error) {
	var v []byte
	err := s.db.QueryRow(ctx, `SELECT delivery_verifier FROM accounts WHERE id = $1`, account).Scan(&v)
	if noRows(err) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: delivery verifier: %w", err)
	}
	return v, nil
}

// Meta implements store.Sealed.
func (s *Store) Meta(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := s.db.QueryRow(ctx, `SELECT value FROM meta WHERE name = $1`, name).Scan(&v)
	if noRows(err) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: meta %q: %w", name, err)
	}
	return v, nil
}

// SetMeta implements store.Sealed.
func (s *Store) SetMeta(ctx context.Context, name string, value []byte) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO meta (name, value) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`, name, value); err != nil {
			return fmt.Errorf("postgres: set meta %q: %w", name, err)
		}
		return nil
	})
}
