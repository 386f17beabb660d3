package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/skymsg/sky/server/store"
)

// AddCodes implements store.Accounts.
func (s *Store) AddCodes(ctx context.Context, codes []store.Code) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, c := range codes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO codes (hash, period, expires, created) VALUES (?, ?, ?, ?)`,
				c.Hash[:], int64(c.Period/time.Second), c.Expires.Unix(), store.CreatedDay(c)); err != nil {
				return fmt.Errorf("sqlite: add code: %w", err)
			}
		}
		return nil
	})
}

// Register implements store.Accounts.
func (s *Store) Register(ctx context.Context, r store.Registration, now time.Time) (store.Account, error) {
	var a store.Account
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var period, expires int64
		err := tx.QueryRowContext(ctx, `SELECT period, expires FROM codes WHERE hash = ?`, r.CodeHash[:]).Scan(&period, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrCodeUnknown
		} else if err != nil {
			return fmt.Errorf("sqlite: register: %w", err)
		}
		if expires <= now.Unix() {
			return store.ErrCodeExpired
		}
		var taken int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE id = ?`, r.ID).Scan(&taken); err != nil {
			return fmt.Errorf("sqlite: register: %w", err)
		}
		if taken > 0 {
			return store.ErrAccountExists
		}
		a = store.NewAccount(r, now, time.Duration(period)*time.Second)
		if _, err := tx.ExecContext(ctx, `DELETE FROM codes WHERE hash = ?`, r.CodeHash[:]); err != nil {
			return fmt.Errorf("sqlite: register: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, created, sub_end, identity_key) VALUES (?, ?, ?, ?)`,
			a.ID, a.Created.Unix(), a.SubscriptionEnd.Unix(), a.IdentityKey); err != nil {
			return fmt.Errorf("sqlite: register: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO devices (account, id, auth_key, registration_id) VALUES (?, 1, ?, ?)`,
			a.ID, r.AuthKey, r.RegistrationID); err != nil {
			return fmt.Errorf("sqlite: register: %w", err)
		}
		return nil
	})
	return a, err
}

const accountCols = `id, created, sub_end, revoked, identity_key`

func scanAccount(row interface{ Scan(...any) error }) (store.Account, error) {
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

func account(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id string) (store.Account, error) {
	a, err := scanAccount(q.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, store.ErrNotFound
	} else if err != nil {
		return a, fmt.Errorf("sqlite: account: %w", err)
	}
	return a, nil
}

// Account implements store.Accounts.
func (s *Store) Account(ctx context.Context, id string) (store.Account, error) {
	return account(ctx, s.r, id)
}

// ListAccounts implements store.Accounts.
func (s *Store) ListAccounts(ctx context.Context) ([]store.Account, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list accounts: %w", err)
	}
	defer rows.Close()
	var list []store.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list accounts: %w", err)
		}
		list = append(list, a)
	}
	return list, rows.Err()
}

// Extend implements store.Accounts.
func (s *Store) Extend(ctx context.Context, id string, d time.Duration, now time.Time) (store.Account, error) {
	var a store.Account
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if a, err = account(ctx, tx, id); err != nil {
			return err
		}
		a.SubscriptionEnd = store.Extended(a.SubscriptionEnd, d, now)
		a.Revoked = false
		_, err = tx.ExecContext(ctx, `UPDATE accounts SET sub_end = ?, revoked = 0 WHERE id = ?`, a.SubscriptionEnd.Unix(), id)
		return err
	})
	return a, err
}

// Revoke implements store.Accounts.
func (s *Store) Revoke(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET revoked = 1 WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("sqlite: revoke: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}

// DeleteAccount implements store.Accounts.
func (s *Store) DeleteAccount(ctx context.Context, id string) error {
	s.queueMu.Lock()
	defer s.queueMu.Unlock()
	defer func() {
		for a := range s.queued {
			if a.Account == id {
				delete(s.queued, a)
				delete(s.last, a)
			}
		}
	}()
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("sqlite: delete account: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		for _, q := range []string{
			`DELETE FROM devices WHERE account = ?`,
			`DELETE FROM signed_prekeys WHERE account = ?`,
			`DELETE FROM one_time_prekeys WHERE account = ?`,
			`DELETE FROM messages WHERE account = ?`,
			`DELETE FROM device_lists WHERE account = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return fmt.Errorf("sqlite: delete account: %w", err)
			}
		}
		return nil
	})
}

// Device implements store.Accounts.
func (s *Store) Device(ctx context.Context, a store.Address) (store.Device, error) {
	d := store.Device{Address: a}
	err := s.r.QueryRowContext(ctx, `SELECT auth_key, registration_id FROM devices WHERE account = ? AND id = ?`,
		a.Account, a.Device).Scan(&d.AuthKey, &d.RegistrationID)
	if errors.Is(err, sql.ErrNoRows) {
		return d, store.ErrNotFound
	} else if err != nil {
		return d, fmt.Errorf("sqlite: device: %w", err)
	}
	return d, nil
}

// Empty implements store.Accounts.
func (s *Store) Empty(ctx context.Context) (bool, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM accounts) + (SELECT COUNT(*) FROM codes)`).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("sqlite: %w", err)
	}
	return n == 0, nil
}

// SweepCodes implements store.Accounts.
func (s *Store) SweepCodes(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM codes WHERE expires <= ?`, now.Unix())
		if err != nil {
			return fmt.Errorf("sqlite: sweep codes: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// ListCodes implements store.Accounts.
func (s *Store) ListCodes(ctx context.Context) ([]store.Code, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT hash, period, expires, created FROM codes ORDER BY expires, hash`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list codes: %w", err)
	}
	defer rows.Close()
	var out []store.Code
	for rows.Next() {
		var hash []byte
		var period, expires int64
		var created *int64
		if err := rows.Scan(&hash, &period, &expires, &created); err != nil {
			return nil, fmt.Errorf("sqlite: list codes: %w", err)
		}
		c := store.Code{Period: time.Duration(period) * time.Second, Expires: time.Unix(expires, 0).UTC(), Created: store.CreatedFrom(created)}
		if copy(c.Hash[:], hash) != len(c.Hash) {
			return nil, fmt.Errorf("sqlite: list codes: a hash of %d bytes", len(hash))
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list codes: %w", err)
	}
	return out, nil
}

// RevokeCode implements store.Accounts.
func (s *Store) RevokeCode(ctx context.Context, hash [32]byte) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM codes WHERE hash = ?`, hash[:])
		if err != nil {
			return fmt.Errorf("sqlite: revoke code: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}
