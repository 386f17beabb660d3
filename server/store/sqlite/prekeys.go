package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/skymsg/sky/server/store"
)

const (
	kindEC    = 0 // signed EC prekey / one-time EC prekey
	kindKyber = 1 // last-resort Kyber prekey / one-time Kyber prekey
)

func deviceExists(ctx context.Context, tx *sql.Tx, a store.Address) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM devices WHERE account = ? AND id = ?`, a.Account, a.Device).Scan(&n); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// UploadPreKeys implements store.PreKeys.
func (s *Store) UploadPreKeys(ctx context.Context, a store.Address, u store.PreKeyUpload) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := deviceExists(ctx, tx, a); err != nil {
			return err
		}
		for kind, k := range []*store.PreKey{kindEC: u.SignedEC, kindKyber: u.LastResortKyber} {
			if k == nil {
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO signed_prekeys (account, device, kind, key_id, key, signature) VALUES (?, ?, ?, ?, ?, ?)`,
				a.Account, a.Device, kind, k.ID, k.Key, nonNil(k.Signature)); err != nil {
				return fmt.Errorf("sqlite: upload prekeys: %w", err)
			}
		}
		for kind, keys := range [][]store.PreKey{kindEC: u.OneTimeEC, kindKyber: u.OneTimeKyber} {
			for _, k := range keys {
				if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO one_time_prekeys (account, device, kind, key_id, key, signature) VALUES (?, ?, ?, ?, ?, ?)`,
					a.Account, a.Device, kind, k.ID, k.Key, nonNil(k.Signature)); err != nil {
					return fmt.Errorf("sqlite: upload prekeys: %w", err)
				}
			}
		}
		c, err := countPreKeys(ctx, tx, a)
		if err != nil {
			return err
		}
		if c.EC > store.MaxStoredOneTime || c.Kyber > store.MaxStoredOneTime {
			return store.ErrTooManyPreKeys
		}
		return nil
	})
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func countPreKeys(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, a store.Address) (store.PreKeyCounts, error) {
	var c store.PreKeyCounts
	err := q.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM one_time_prekeys WHERE account = ?1 AND device = ?2 AND kind = 0),
		(SELECT COUNT(*) FROM one_time_prekeys WHERE account = ?1 AND device = ?2 AND kind = 1)`,
		a.Account, a.Device).Scan(&c.EC, &c.Kyber)
	if err != nil {
		return c, fmt.Errorf("sqlite: count prekeys: %w", err)
	}
	return c, nil
}

// CountPreKeys implements store.PreKeys.
func (s *Store) CountPreKeys(ctx context.Context, a store.Address) (store.PreKeyCounts, error) {
	return countPreKeys(ctx, s.r, a)
}

// TakeBundles implements store.PreKeys. It runs in one write transaction;
// SQLite's single writer makes the consumption atomic.
func (s *Store) TakeBundles(ctx context.Context, account string, device uint32, oneTime bool) ([]store.Bundle, error) {
	var out []store.Bundle
	err := s.tx(ctx, func(tx *sql.Tx) error {
		out = nil
		var ik []byte
		err := tx.QueryRowContext(ctx, `SELECT identity_key FROM accounts WHERE id = ?`, account).Scan(&ik)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		} else if err != nil {
			return fmt.Errorf("sqlite: bundle: %w", err)
		}
		devs, err := devicesOf(ctx, tx, account, device)
		if err != nil {
			return err
		}
		for _, d := range devs {
			b, err := takeBundle(ctx, tx, account, d, oneTime)
			if errors.Is(err, store.ErrNoPreKeys) && device == 0 {
				continue
			} else if err != nil {
				return err
			}
			b.IdentityKey = ik
			out = append(out, b)
		}
		if len(out) == 0 {
			return store.ErrNoPreKeys
		}
		return nil
	})
	return out, err
}

type devRow struct {
	id, regID uint32
}

func devicesOf(ctx context.Context, tx *sql.Tx, account string, device uint32) ([]devRow, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, registration_id FROM devices WHERE account = ?1 AND (?2 = 0 OR id = ?2) ORDER BY id`, account, device)
	if err != nil {
		return nil, fmt.Errorf("sqlite: bundle: %w", err)
	}
	defer rows.Close()
	var devs []devRow
	for rows.Next() {
		var d devRow
		if err := rows.Scan(&d.id, &d.regID); err != nil {
			return nil, fmt.Errorf("sqlite: bundle: %w", err)
		}
		devs = append(devs, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: bundle: %w", err)
	}
	if len(devs) == 0 {
		return nil, store.ErrNotFound
	}
	return devs, nil
}

func takeBundle(ctx context.Context, tx *sql.Tx, account string, d devRow, oneTime bool) (store.Bundle, error) {
	b := store.Bundle{Device: d.id, RegistrationID: d.regID}
	signed := func(kind int, k *store.PreKey) error {
		err := tx.QueryRowContext(ctx, `SELECT key_id, key, signature FROM signed_prekeys WHERE account = ? AND device = ? AND kind = ?`,
			account, d.id, kind).Scan(&k.ID, &k.Key, &k.Signature)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNoPreKeys
		} else if err != nil {
			return fmt.Errorf("sqlite: bundle: %w", err)
		}
		return nil
	}
	if err := signed(kindEC, &b.SignedEC); err != nil {
		return b, err
	}
	var lastResort store.PreKey
	if err := signed(kindKyber, &lastResort); err != nil {
		return b, err
	}
	take := func(kind int) (*store.PreKey, error) {
		if !oneTime {
			return nil, nil
		}
		var k store.PreKey
		err := tx.QueryRowContext(ctx, `DELETE FROM one_time_prekeys WHERE account = ?1 AND device = ?2 AND kind = ?3 AND key_id =
			(SELECT key_id FROM one_time_prekeys WHERE account = ?1 AND device = ?2 AND kind = ?3 ORDER BY key_id LIMIT 1)
			RETURNING key_id, key, signature`, account, d.id, kind).Scan(&k.ID, &k.Key, &k.Signature)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		} else if err != nil {
			return nil, fmt.Errorf("sqlite: bundle: %w", err)
		}
		return &k, nil
	}
	var err error
	if b.OneTimeEC, err = take(kindEC); err != nil {
		return b, err
	}
	kyber, err := take(kindKyber)
	if err != nil {
		return b, err
	}
	if kyber == nil {
		b.Kyber, b.KyberLastResort = lastResort, true
	} else {
		b.Kyber = *kyber
	}
	if len(b.SignedEC.Signature) == 0 {
		b.SignedEC.Signature = nil
	}
	if b.OneTimeEC != nil && len(b.OneTimeEC.Signature) == 0 {
		b.OneTimeEC.Signature = nil
	}
	return b, nil
}
