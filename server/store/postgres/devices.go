package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/skymsg/sky/server/store"
)

// DeviceList implements store.Devices.
func (s *Store) DeviceList(ctx context.Context, account string) ([]byte, []uint32, error) {
	var list []byte
	err := s.db.QueryRow(ctx, `SELECT l.list FROM accounts a LEFT JOIN device_lists l ON l.account = a.id WHERE a.id = $1`, account).Scan(&list)
	if noRows(err) {
		return nil, nil, store.ErrNotFound
	} else if err != nil {
		return nil, nil, fmt.Errorf("postgres: device list: %w", err)
	}
	rows, err := s.db.Query(ctx, `SELECT id FROM devices WHERE account = $1 ORDER BY id`, account)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: device list: %w", err)
	}
	defer rows.Close()
	var devs []uint32
	for rows.Next() {
		var d int64
		if err := rows.Scan(&d); err != nil {
			return nil, nil, fmt.Errorf("postgres: device list: %w", err)
		}
		devs = append(devs, uint32(d))
	}
	return list, devs, rows.Err()
}

// lockAccount locks account's row for the transaction; ErrNotFound if absent.
func lockAccount(ctx context.Context, tx pgx.Tx, account string) error {
	var id string
	err := tx.QueryRow(ctx, `SELECT id FROM accounts WHERE id = $1 FOR UPDATE`, account).Scan(&id)
	if noRows(err) {
		return store.ErrNotFound
	}
	return err
}

// SetDeviceList implements store.Devices.
func (s *Store) SetDeviceList(ctx context.Context, account string, list []byte) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockAccount(ctx, tx, account); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO device_lists (account, list, last_device)
			VALUES ($1, $2, (SELECT COALESCE(MAX(id), 1) FROM devices WHERE account = $1))
			ON CONFLICT (account) DO UPDATE SET list = excluded.list`, account, list); err != nil {
			return fmt.Errorf("postgres: set device list: %w", err)
		}
		return nil
	})
}

// AddDevice implements store.Devices.
func (s *Store) AddDevice(ctx context.Context, account string, authKey []byte, registrationID uint32, max int) (uint32, error) {
	var id uint32
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockAccount(ctx, tx, account); err != nil {
			return err
		}
		var n, last int64
		if err := tx.QueryRow(ctx, `SELECT COUNT(*), GREATEST(COALESCE(MAX(id), 0),
			COALESCE((SELECT last_device FROM device_lists WHERE account = $1), 0))
			FROM devices WHERE account = $1`, account).Scan(&n, &last); err != nil {
			return fmt.Errorf("postgres: add device: %w", err)
		}
		if n >= int64(max) || last >= store.MaxDeviceID {
			return store.ErrTooManyDevices
		}
		id = uint32(last + 1)
		if _, err := tx.Exec(ctx, `INSERT INTO devices (account, id, auth_key, registration_id) VALUES ($1, $2, $3, $4)`,
			account, int64(id), authKey, int64(registrationID)); err != nil {
			return fmt.Errorf("postgres: add device: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO device_lists (account, list, last_device) VALUES ($1, NULL, $2)
			ON CONFLICT (account) DO UPDATE SET last_device = excluded.last_device`, account, int64(id)); err != nil {
			return fmt.Errorf("postgres: add device: %w", err)
		}
		return nil
	})
	return id, err
}

// RemoveDevice implements store.Devices.
func (s *Store) RemoveDevice(ctx context.Context, a store.Address) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM devices WHERE account = $1 AND id = $2`, a.Account, int64(a.Device))
		if err != nil {
			return fmt.Errorf("postgres: remove device: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		for _, q := range []string{
			`DELETE FROM signed_prekeys WHERE account = $1 AND device = $2`,
			`DELETE FROM one_time_prekeys WHERE account = $1 AND device = $2`,
			`DELETE FROM messages WHERE account = $1 AND device = $2`,
		} {
			if _, err := tx.Exec(ctx, q, a.Account, int64(a.Device)); err != nil {
				return fmt.Errorf("postgres: remove device: %w", err)
			}
		}
		return nil
	})
}

// PutLink implements store.Devices.
func (s *Store) PutLink(ctx context.Context, id []byte, slot uint32, blob []byte, expires time.Time) error {
	tag, err := s.db.Exec(ctx, `INSERT INTO links (id, slot, blob, expires) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		id, int64(slot), blob, expires.Unix())
	if err != nil {
		return fmt.Errorf("postgres: put link: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrLinkTaken
	}
	return nil
}

// Link implements store.Devices.
func (s *Store) Link(ctx context.Context, id []byte, slot uint32, now time.Time) ([]byte, error) {
	var b []byte
	err := s.db.QueryRow(ctx, `SELECT blob FROM links WHERE id = $1 AND slot = $2 AND expires > $3`, id, int64(slot), now.Unix()).Scan(&b)
	if noRows(err) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("postgres: link: %w", err)
	}
	return b, nil
}

// SweepLinks implements store.Devices.
func (s *Store) SweepLinks(ctx context.Context, now time.Time) (int64, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM links WHERE expires <= $1`, now.Unix())
	if err != nil {
		return 0, fmt.Errorf("postgres: sweep links: %w", err)
	}
	return tag.RowsAffected(), nil
}
