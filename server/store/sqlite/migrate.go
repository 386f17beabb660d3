package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are applied in order, each once, each in its own transaction.
// Never edit a released entry: append a new one.
var migrations = []string{
	// 1: initial schema.
	`
CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE codes (
	hash BLOB PRIMARY KEY,
	period INTEGER NOT NULL,  -- seconds granted
	expires INTEGER NOT NULL  -- unix seconds
) WITHOUT ROWID;
CREATE TABLE accounts (
	id TEXT PRIMARY KEY,
	created INTEGER NOT NULL,  -- unix seconds of the creation day (UTC midnight)
	sub_end INTEGER NOT NULL,  -- unix seconds
	revoked INTEGER NOT NULL DEFAULT 0,
	identity_key BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE devices (
	account TEXT NOT NULL,
	id INTEGER NOT NULL,
	auth_key BLOB NOT NULL,
	registration_id INTEGER NOT NULL,
	queued INTEGER NOT NULL DEFAULT 0,  -- messages in this device's queue
	PRIMARY KEY (account, id)
) WITHOUT ROWID;
CREATE TABLE signed_prekeys (
	account TEXT NOT NULL,
	device INTEGER NOT NULL,
	kind INTEGER NOT NULL,  -- 0 signed EC, 1 last-resort Kyber
	key_id INTEGER NOT NULL,
	key BLOB NOT NULL,
	signature BLOB NOT NULL,
	PRIMARY KEY (account, device, kind)
) WITHOUT ROWID;
CREATE TABLE one_time_prekeys (
	account TEXT NOT NULL,
	device INTEGER NOT NULL,
	kind INTEGER NOT NULL,  -- 0 EC, 1 Kyber
	key_id INTEGER NOT NULL,
	key BLOB NOT NULL,
	signature BLOB NOT NULL,
	PRIMARY KEY (account, device, kind, key_id)
) WITHOUT ROWID;
CREATE TABLE messages (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused
	account TEXT NOT NULL,
	device INTEGER NOT NULL,
	sender TEXT,              -- NULL when sealed
	sender_device INTEGER,
	received INTEGER NOT NULL, -- unix seconds
	body BLOB NOT NULL
);
CREATE INDEX messages_queue ON messages (account, device, seq);
CREATE INDEX messages_received ON messages (received);
`,
	// 2: sealed delivery: each account's delivery-token verifier (NULL:
	// only message requests reach it).
	`ALTER TABLE accounts ADD COLUMN delivery_verifier BLOB;`,
	// 3: the key directory (server/keydir): published epochs, the values
	// entries open to, values waiting for the next epoch, auditors'
	// countersignatures. Entries are named by VRF output, never account ID.
	`
CREATE TABLE kt_epochs (epoch INTEGER PRIMARY KEY, record BLOB NOT NULL, head BLOB NOT NULL);
CREATE TABLE kt_values (
	idx BLOB NOT NULL,
	version INTEGER NOT NULL,
	opening BLOB NOT NULL,
	value BLOB NOT NULL,
	PRIMARY KEY (idx, version)
) WITHOUT ROWID;
CREATE TABLE kt_pending (idx BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE kt_countersigs (auditor BLOB PRIMARY KEY, size INTEGER NOT NULL, signature BLOB NOT NULL) WITHOUT ROWID;
`,
	// 4: linked devices: each account's signed device list (opaque; NULL
	// until the account stores one) and the highest device number it ever
	// had, and the write-once link slots two devices meet in.
	`
CREATE TABLE device_lists (
	account TEXT PRIMARY KEY,
	list BLOB,
	last_device INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE links (
	id BLOB NOT NULL,
	slot INTEGER NOT NULL,
	blob BLOB NOT NULL,
	expires INTEGER NOT NULL,  -- unix seconds
	PRIMARY KEY (id, slot)
) WITHOUT ROWID;
`,
	// 5: identified sends were removed: every message is sealed, so a
	// message's sender columns (never filled since) go.
	`
ALTER TABLE messages DROP COLUMN sender;
ALTER TABLE messages DROP COLUMN sender_device;
`,
	// 6: the day each activation code was made (unix seconds of its UTC
	// midnight), for skyd admin codes list; NULL for codes made before.
	`ALTER TABLE codes ADD COLUMN created INTEGER;`,
}

func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("schema_version: %w", err)
	}
	for {
		done, err := step(ctx, db)
		if err != nil || done {
			return err
		}
	}
}

// step applies the next missing migration, reading the version inside the
// same (immediate) transaction so two processes never apply one twice.
func step(ctx context.Context, db *sql.DB) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return false, fmt.Errorf("reading schema version: %w", err)
	}
	if v > len(migrations) {
		return false, fmt.Errorf("database schema version %d is newer than this skyd knows (%d): upgrade skyd", v, len(migrations))
	}
	if v == len(migrations) {
		return true, nil
	}
	if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
		return false, fmt.Errorf("migration %d: %w", v+1, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, v+1); err != nil {
		return false, fmt.Errorf("migration %d: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migration %d: %w", v+1, err)
	}
	return false, nil
}
