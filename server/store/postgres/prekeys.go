package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/skymsg/sky/server/store"
)

const (
	kindEC    = 0 // signed EC prekey / one-time EC prekey
	kindKyber = 1 // last-resort Kyber prekey / one-time Kyber prekey
)

// lockDevice locks the device row (serialising uploads per device) or
// returns ErrNotFound.
func lockDevice(ctx context.Context, tx pgx.Tx, a store.Address) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM devices WHERE account = $1 AND id = $2 FOR UPDATE`, a.Account, int64(a.Device)).Scan(&one)
	if noRows(err) {
		return store.ErrNotFound
	} else if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// UploadPreKeys implements store.PreKeys.
func (s *Store) UploadPreKeys(ctx context.Context, a store.Address, u store.PreKeyUpload) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockDevice(ctx, tx, a); err != nil {
			return err
		}
		var b pgx.Batch
		for kind, k := range []*store.PreKey{kindEC: u.SignedEC, kindKyber: u.LastResortKyber} {
			if k != nil {
				b.Queue(`INSERT INTO signed_prekeys (account, device, kind, key_id, key, signature) VALUES ($1, $2, $3, $4, $5, $6)
					ON CONFLICT (account, device, kind) DO UPDATE SET key_id = excluded.key_id, key = excluded.key, signature = excluded.signature`,
					a.Account, int64(a.Device), kind, int64(k.ID), k.Key, nonNil(k.Signature))
			}
		}
		for kind, keys := range [][]store.PreKey{kindEC: u.OneTimeEC, kindKyber: u.OneTimeKyber} {
			for _, k := range keys {
				b.Queue(`INSERT INTO one_time_prekeys (account, device, kind, key_id, key, signature) VALUES ($1, $2, $3, $4, $5, $6)
					ON CONFLICT (account, device, kind, key_id) DO UPDATE SET key = excluded.key, signature = excluded.signature`,
					a.Account, int64(a.Device), kind, int64(k.ID), k.Key, nonNil(k.Signature))
			}
		}
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return fmt.Errorf("postgres: upload prekeys: %w", err)
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

func countPreKeys(ctx context.Context, q querier, a store.Address) (store.PreKeyCounts, error) {
	var ec, kyber int64
	err := q.QueryRow(ctx, `SELECT
		COUNT(*) FILTER (WHERE kind = 0), COUNT(*) FILTER (WHERE kind = 1)
		FROM one_time_prekeys WHERE account = $1 AND device = $2`, a.Account, int64(a.Device)).Scan(&ec, &kyber)
	if err != nil {
		return store.PreKeyCounts{}, fmt.Errorf("postgres: count prekeys: %w", err)
	}
	return store.PreKeyCounts{EC: int(ec), Kyber: int(kyber)}, nil
}

// CountPreKeys implements store.PreKeys.
func (s *Store) CountPreKeys(ctx context.Context, a store.Address) (store.PreKeyCounts, error) {
	return countPreKeys(ctx, s.db, a)
}

// TakeBundles implements store.PreKeys. Each one-time key is deleted with
// FOR UPDATE SKIP LOCKED, so concurrent takers, on any node, each get a
// different key.
func (s *Store) TakeBundles(ctx context.Context, account string, device uint32, oneTime bool) ([]store.Bundle, error) {
	var out []store.Bundle
	err := s.tx(ctx, func(tx pgx.Tx) error {
		out = nil
		var ik []byte
		err := tx.QueryRow(ctx, `SELECT identity_key FROM accounts WHERE id = $1`, account).Scan(&ik)
		if noRows(err) {
			return store.ErrNotFound
		} else if err != nil {
			return fmt.Errorf("postgres: bundle: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT id, registration_id FROM devices WHERE account = $1 AND ($2 = 0 OR id = $2) ORDER BY id`, account, int64(device))
		if err != nil {
			return fmt.Errorf("postgres: bundle: %w", err)
		}
		devs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]int64, error) {
			var d [2]int64
			return d, r.Scan(&d[0], &d[1])
		})
		if err != nil {
			return fmt.Errorf("postgres: bundle: %w", err)
		}
		if len(devs) == 0 {
			return store.ErrNotFound
		}
		for _, d := range devs {
			b, err := takeBundle(ctx, tx, account, uint32(d[0]), oneTime)
			if errors.Is(err, store.ErrNoPreKeys) && device == 0 {
				continue
			} else if err != nil {
				return err
			}
			b.RegistrationID, b.IdentityKey = uint32(d[1]), ik
			out = append(out, b)
		}
		if len(out) == 0 {
			return store.ErrNoPreKeys
		}
		return nil
	})
	return out, err
}

func scanPreKey(row pgx.Row) (store.PreKey, error) {
	var (
		k  store.PreKey
		id int64
	)
	err := row.Scan(&id, &k.Key, &k.Signature)
	k.ID = uint32(id)
	if len(k.Signature) == 0 {
		k.Signature = nil
	}
	return k, err
}

func takeBundle(ctx context.Context, tx pgx.Tx, account string, device uint32, oneTime bool) (store.Bundle, error) {
	b := store.Bundle{Device: device}
	signed := func(kind int) (store.PreKey, error) {
		k, err := scanPreKey(tx.QueryRow(ctx, `SELECT key_id, key, signature FROM signed_prekeys WHERE account = $1 AND device = $2 AND kind = $3`,
			account, int64(device), kind))
		if noRows(err) {
			return k, store.ErrNoPreKeys
		} else if err != nil {
			return k, fmt.Errorf("postgres: bundle: %w", err)
		}
		return k, nil
	}
	var err error
	if b.SignedEC, err = signed(kindEC); err != nil {
		return b, err
	}
	lastResort, err := signed(kindKyber)
	if err != nil {
		return b, err
	}
	take := func(kind int) (*store.PreKey, error) {
		if !oneTime {
			return nil, nil
		}
		k, err := scanPreKey(tx.QueryRow(ctx, `DELETE FROM one_time_prekeys WHERE (account, device, kind, key_id) =
			(SELECT account, device, kind, key_id FROM one_time_prekeys WHERE account = $1 AND device = $2 AND kind = $3
			 ORDER BY key_id LIMIT 1 FOR UPDATE SKIP LOCKED)
			RETURNING key_id, key, signature`, account, int64(device), kind))
		if noRows(err) {
			return nil, nil
		} else if err != nil {
			return nil, fmt.Errorf("postgres: bundle: %w", err)
		}
		return &k, nil
	}
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
	return b, nil
}
