package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/skymsg/sky/server/store"
)

// AddCodes implements store.Accounts.
func (s *Store) AddCodes(ctx context.Context, codes []store.Code) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		for _, c := range codes {
			if _, err := tx.Exec(ctx, `INSERT INTO codes (hash, period, expires, created) VALUES ($1, $2, $3, $4)`,
				c.Hash[:], int64(c.Period/time.Second), c.Expires.Unix(), store.CreatedDay(c)); err != nil {
				return fmt.Errorf("postgres: add code: %w", err)
			}
		}
		return nil
	})
}

// Register implements store.Accounts.
func (s *Store) Register(ctx context.Context, r store.Registration, now time.Time) (store.Account, error) {
	var a store.Account
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var period, expires int64
		err := tx.QueryRow(ctx, `SELECT period, expires FROM codes WHERE hash = $1 FOR UPDATE`, r.CodeHash[:]).Scan(&period, &expires)
		if noRows(err) {
			return store.ErrCodeUnknown
		} else if err != nil {
			return fmt.Errorf("postgres: register: %w", err)
		}
		if expires <= now.Unix() {
			return store.ErrCodeExpired
		}
		a = store.NewAccount(r, now, time.Duration(period)*time.Second)
		tag, err := tx.Exec(ctx, `INSERT INTO accounts (id, created, sub_end, identity_key) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`,
			a.ID, a.Created.Unix(), a.SubscriptionEnd.Unix(), a.IdentityKey)
		if err != nil {
			return fmt.Errorf("postgres: register: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return store.ErrAccountExists
		}
		if _, err := tx.Exec(ctx, `DELETE FROM codes WHERE hash = $1`, r.CodeHash[:]); err != nil {
			return fmt.Errorf("postgres: register: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO devices (account, id, auth_key, registration_id) VALUES ($1, 1, $2, $3)`,
			a.ID, r.AuthKey, int64(r.RegistrationID)); err != nil {
			return fmt.Errorf("postgres: register: %w", err)
		}
		return nil
	})
	return a, err
}

const accountCols = `id, created, sub_end, revoked, identity_key`

func scanAccount(row pgx.Row) (store.Account, error) {
	var (
		a               store.Account
		created, subEnd int64
	)
	if err := row.Scan(&a.ID, &created, &subEnd, &a.Revoked, &a.IdentityKey); err != nil {
		return a, err
	}
	a.Created, a.SubscriptionEnd = time.Unix(created, 0).UTC(), time.Unix(subEnd, 0).UTC()
	return a, nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func account(ctx context.Context, q querier, id string, lock bool) (store.Account, error) {
	sql := `SELECT ` + accountCols + ` FROM accounts WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	a, err := scanAccount(q.QueryRow(ctx, sql, id))
	if noRows(err) {
		return a, store.ErrNotFound
	} else if err != nil {
		return a, fmt.Errorf("postgres: account: %w", err)
	}
	return a, nil
}

// Account implements store.Accounts.
func (s *Store) Account(ctx context.Context, id string) (store.Account, error) {
	return account(ctx, s.db, id, false)
}

// ListAccounts implements store.Accounts.
func (s *Store) ListAccounts(ctx context.Context) ([]store.Account, error) {
	rows, err := s.db.Query(ctx, `SELECT `+accountCols+` FROM accounts ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list accounts: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Account, error) { return scanAccount(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list accounts: %w", err)
	}
	return list, nil
}

// Extend implements store.Accounts.
func (s *Store) Extend(ctx context.Context, id string, d time.Duration, now time.Time) (store.Account, error) {
	var a store.Account
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if a, err = account(ctx, tx, id, true); err != nil {
			return err
		}
		a.SubscriptionEnd = store.Extended(a.SubscriptionEnd, d, now)
		a.Revoked = false
		_, err = tx.Exec(ctx, `UPDATE accounts SET sub_end = $1, revoked = false WHERE id = $2`, a.SubscriptionEnd.Unix(), id)
		return err
	})
	return a, err
}

// Revoke implements store.Accounts.
func (s *Store) Revoke(ctx context.Context, id string) error {
	tag, err := s.db.Exec(ctx, `UPDATE accounts SET revoked = true WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("postgres: revoke: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// DeleteAccount implements store.Accounts.
func (s *Store) DeleteAccount(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM accounts WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("postgres: delete account: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		for _, q := range []string{
			`DELETE FROM devices WHERE account = $1`,
			`DELETE FROM signed_prekeys WHERE account = $1`,
			`DELETE FROM one_time_prekeys WHERE account = $1`,
			`DELETE FROM messages WHERE account = $1`,
			`DELETE FROM device_lists WHERE account = $1`,
		} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return fmt.Errorf("postgres: delete account: %w", err)
			}
		}
		return nil
	})
}

// Device implements store.Accounts.
func (s *Store) Device(ctx context.Context, a store.Address) (store.Device, error) {
	d := store.Device{Address: a}
	var regID int64
	err := s.db.QueryRow(ctx, `SELECT auth_key, registration_id FROM devices WHERE account = $1 AND id = $2`,
		a.Account, int64(a.Device)).Scan(&d.AuthKey, &regID)
	if noRows(err) {
		return d, store.ErrNotFound
	} else if err != nil {
		return d, fmt.Errorf("postgres: device: %w", err)
	}
	d.RegistrationID = uint32(regID)
	return d, nil
}

// Empty implements store.Accounts.
func (s *Store) Empty(ctx context.Context) (bool, error) {
	var empty bool
	err := s.db.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM accounts) AND NOT EXISTS (SELECT 1 FROM codes)`).Scan(&empty)
	if err != nil {
		return false, fmt.Errorf("postgres: %w", err)
	}
	return empty, nil
}

// SweepCodes implements store.Accounts.
func (s *Store) SweepCodes(ctx context.Context, now time.Time) (int64, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM codes WHERE expires <= $1`, now.Unix())
	if err != nil {
		return 0, fmt.Errorf("postgres: sweep codes: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ListCodes implements store.Accounts.
func (s *Store) ListCodes(ctx context.Context) ([]store.Code, error) {
	rows, err := s.db.Query(ctx, `SELECT hash, period, expires, created FROM codes ORDER BY expires, hash`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list codes: %w", err)
	}
	defer rows.Close()
	var out []store.Code
	for rows.Next() {
		var hash []byte
		var period, expires int64
		var created *int64
		if err := rows.Scan(&hash, &period, &expires, &created); err != nil {
			return nil, fmt.Errorf("postgres: list codes: %w", err)
		}
		c := store.Code{Period: time.Duration(period) * time.Second, Expires: time.Unix(expires, 0).UTC(), Created: store.CreatedFrom(created)}
		if copy(c.Hash[:], hash) != len(c.Hash) {
			return nil, fmt.Errorf("postgres: list codes: a hash of %d bytes", len(hash))
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list codes: %w", err)
	}
	return out, nil
}

// RevokeCode implements store.Accounts.
func (s *Store) RevokeCode(ctx context.Context, hash [32]byte) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM codes WHERE hash = $1`, hash[:])
	if err != nil {
		return fmt.Errorf("postgres: revoke code: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}
