package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/skymsg/sky/server/store"
)

// DeviceList implements store.Devices.
func (s *Store) DeviceList(ctx context.Context, account string) ([]byte, []uint32, error) {
	var list []byte
	err := s.r.QueryRowContext(ctx, `SELECT l.list FROM accounts a LEFT JOIN device_lists l ON l.account = a.id WHERE a.id = ?`, account).Scan(&list)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, store.ErrNotFound
	} else if err != nil {
		return nil, nil, fmt.Errorf("sqlite: device list: %w", err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id FROM devices WHERE account = ? ORDER BY id`, account)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: device list: %w", err)
	}
	defer rows.Close()
	var devs []uint32
	for rows.Next() {
		var d uint32
		if err := rows.Scan(&d); err != nil {
			return nil, nil, fmt.Errorf("sqlite: device list: %w", err)
		}
		devs = append(devs, d)
	}
	return list, devs, rows.Err()
}

// SetDeviceList implements store.Devices.
func (s *Store) SetDeviceList(ctx context.Context, account string, list []byte) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := accountExists(ctx, tx, account); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO device_lists (account, list, last_device)
			VALUES (?, ?, (SELECT COALESCE(MAX(id), 1) FROM devices WHERE account = ?))
			ON CONFLICT (account) DO UPDATE SET list = excluded.list`, account, list, account); err != nil {
			return fmt.Errorf("sqlite: set device list: %w", err)
		}
		return nil
	})
}

func accountExists(ctx context.Context, tx *sql.Tx, account string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE id = ?`, account).Scan(&n); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// AddDevice implements store.Devices.
func (s *Store) AddDevice(ctx context.Context, account string, authKey []byte, registrationID uint32, max int) (uint32, error) {
	var id uint32
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := accountExists(ctx, tx, account); err != nil {
			return err
		}
		var n int
		var last uint32
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), MAX(
			COALESCE(MAX(id), 0), COALESCE((SELECT last_device FROM device_lists WHERE account = ?), 0))
			FROM devices WHERE account = ?`, account, account).Scan(&n, &last); err != nil {
			return fmt.Errorf("sqlite: add device: %w", err)
		}
		if n >= max || last >= store.MaxDeviceID {
			return store.ErrTooManyDevices
		}
		id = last + 1
		if _, err := tx.ExecContext(ctx, `INSERT INTO devices (account, id, auth_key, registration_id) VALUES (?, ?, ?, ?)`,
			account, id, authKey, registrationID); err != nil {
			return fmt.Errorf("sqlite: add device: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO device_lists (account, list, last_device) VALUES (?, NULL, ?)
			ON CONFLICT (account) DO UPDATE SET last_device = excluded.last_device`, account, id); err != nil {
			return fmt.Errorf("sqlite: add device: %w", err)
		}
		return nil
	})
	return id, err
}

// RemoveDevice implements store.Devices.
func (s *Store) RemoveDevice(ctx context.Context, a store.Address) error {
	s.queueMu.Lock()
	defer s.queueMu.Unlock()
	defer func() {
		delete(s.queued, a)
		delete(s.last, a)
	}()
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE account = ? AND id = ?`, a.Account, a.Device)
		if err != nil {
			return fmt.Errorf("sqlite: remove device: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		for _, q := range []string{
			`DELETE FROM signed_prekeys WHERE account = ? AND device = ?`,
			`DELETE FROM one_time_prekeys WHERE account = ? AND device = ?`,
			`DELETE FROM messages WHERE account = ? AND device = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, a.Account, a.Device); err != nil {
				return fmt.Errorf("sqlite: remove device: %w", err)
			}
		}
		return nil
	})
}

// PutLink implements store.Devices.
func (s *Store) PutLink(ctx context.Context, id []byte, slot uint32, blob []byte, expires time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO links (id, slot, blob, expires) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			id, slot, blob, expires.Unix())
		if err != nil {
			return fmt.Errorf("sqlite: put link: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrLinkTaken
		}
		return nil
	})
}

// Link implements store.Devices.
func (s *Store) Link(ctx context.Context, id []byte, slot uint32, now time.Time) ([]byte, error) {
	var b []byte
	err := s.r.QueryRowContext(ctx, `SELECT blob FROM links WHERE id = ? AND slot = ? AND expires > ?`, id, slot, now.Unix()).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: link: %w", err)
	}
	return b, nil
}

// SweepLinks implements store.Devices.
func (s *Store) SweepLinks(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM links WHERE expires <= ?`, now.Unix())
		if err != nil {
			return fmt.Errorf("sqlite: sweep links: %w", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}
