// Package postgres is skyd's shared storage backend on PostgreSQL, through
// the pure-Go pgx driver. Several skyd nodes may share one database: prekey
// consumption uses row locks (FOR UPDATE SKIP LOCKED), migrations take an
// advisory lock, and commits are durable with PostgreSQL's default
// synchronous_commit=on.
package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/skymsg/sky/server/store"
)

// Store is a store.Store on a PostgreSQL database.
type Store struct {
	db *pgxpool.Pool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database named by url (postgres://…) and runs any
// schema migrations it lacks.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: bad database URL: %w", err)
	}
	// synchronous_commit=on is PostgreSQL's default; set it so a server-wide
	// setting cannot weaken "acknowledged = committed".
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	// A skyd transaction never waits on its client for long. One that does
	// belongs to a node that was stopped or cut off mid-commit; PostgreSQL
	// ends its session after this long, releasing the row locks that
	// would otherwise hold up every other node's commits to the same
	// queues. The URL may set its own value.
	if _, ok := cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !ok {
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = "5000" // ms
	}
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the connection pool.
func (s *Store) Close() error {
	s.db.Close()
	return nil
}

// tx runs fn in a transaction and commits it.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.db, fn)
}

// Secret implements store.Store.
func (s *Store) Secret(ctx context.Context, name string, n int) ([]byte, error) {
	var v []byte
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, store.RandomBytes(n)); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT value FROM meta WHERE name = $1`, name).Scan(&v)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: secret %q: %w", name, err)
	}
	return v, nil
}

// noRows reports whether err says a query returned no row.
func noRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
