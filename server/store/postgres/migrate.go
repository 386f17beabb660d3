package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations are applied in order, each once, each in its own transaction
// under an advisory lock, so several nodes starting together apply each
// exactly once. Never edit a released entry: append a new one.
var migrations = []string{
	// 1: initial schema.
	`
CREATE TABLE meta (name TEXT PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE codes (
	hash BYTEA PRIMARY KEY,
	period BIGINT NOT NULL,   -- seconds granted
	expires BIGINT NOT NULL   -- unix seconds
);
CREATE TABLE accounts (
	id TEXT PRIMARY KEY,
	created BIGINT NOT NULL,  -- unix seconds of the creation day (UTC midnight)
	sub_end BIGINT NOT NULL,  -- unix seconds
	revoked BOOLEAN NOT NULL DEFAULT false,
	identity_key BYTEA NOT NULL
);
CREATE TABLE devices (
	account TEXT NOT NULL,
	id BIGINT NOT NULL,
	auth_key BYTEA NOT NULL,
	registration_id BIGINT NOT NULL,
	queued BIGINT NOT NULL DEFAULT 0,  -- messages in this device's queue
	PRIMARY KEY (account, id)
);
CREATE TABLE signed_prekeys (
	account TEXT NOT NULL,
	device BIGINT NOT NULL,
	kind SMALLINT NOT NULL,  -- 0 signed EC, 1 last-resort Kyber
	key_id BIGINT NOT NULL,
	key BYTEA NOT NULL,
	signature BYTEA NOT NULL,
	PRIMARY KEY (account, device, kind)
);
CREATE TABLE one_time_prekeys (
	account TEXT NOT NULL,
	device BIGINT NOT NULL,
	kind SMALLINT NOT NULL,  -- 0 EC, 1 Kyber
	key_id BIGINT NOT NULL,
	key BYTEA NOT NULL,
	signature BYTEA NOT NULL,
	PRIMARY KEY (account, device, kind, key_id)
);
CREATE TABLE messages (
	seq BIGSERIAL PRIMARY KEY,  -- never reused
	account TEXT NOT NULL,
	device BIGINT NOT NULL,
	sender TEXT,                -- NULL when sealed
	sender_device BIGINT,
	received BIGINT NOT NULL,   -- unix seconds
	body BYTEA NOT NULL
);
CREATE INDEX messages_queue ON messages (account, device, seq);
CREATE INDEX messages_received ON messages (received);
`,
	// 2: sealed delivery: each account's delivery-token verifier (NULL:
	// only message requests reach it).
	`ALTER TABLE accounts ADD COLUMN delivery_verifier BYTEA;`,
	// 3: the key directory (server/keydir): published epochs, the values
	// entries open to, values waiting for the next epoch, auditors'
	// countersignatures. Entries are named by VRF output, never account ID.
	`
CREATE TABLE kt_epochs (epoch BIGINT PRIMARY KEY, record BYTEA NOT NULL, head BYTEA NOT NULL);
CREATE TABLE kt_values (
	idx BYTEA NOT NULL,
	version BIGINT NOT NULL,
	opening BYTEA NOT NULL,
	value BYTEA NOT NULL,
	PRIMARY KEY (idx, version)
);
CREATE TABLE kt_pending (idx BYTEA PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE kt_countersigs (auditor BYTEA PRIMARY KEY, size BIGINT NOT NULL, signature BYTEA NOT NULL);
`,
	// 4: linked devices: each account's signed device list (opaque; NULL
	// until the account stores one) and the highest device number it ever
	// had, and the write-once link slots two devices meet in.
	`
CREATE TABLE device_lists (account TEXT PRIMARY KEY, list BYTEA, last_device BIGINT NOT NULL);
CREATE TABLE links (id BYTEA NOT NULL, slot BIGINT NOT NULL, blob BYTEA NOT NULL, expires BIGINT NOT NULL, PRIMARY KEY (id, slot));
`,
	// 5: identified sends were removed: every message is sealed, so a
	// message's sender columns (never filled since) go.
	`ALTER TABLE messages DROP COLUMN sender, DROP COLUMN sender_device;`,
	// 6: the day each activation code was made (unix seconds of its UTC
	// midnight), for skyd admin codes list; NULL for codes made before.
	`ALTER TABLE codes ADD COLUMN created BIGINT;`,
}

// migrationLock is the advisory lock key that serialises migrations.
const migrationLock = 0x736b7964 // "skyd"

func migrate(ctx context.Context, db *pgxpool.Pool) error {
	for {
		done, err := step(ctx, db)
		if err != nil || done {
			return err
		}
	}
}

func step(ctx context.Context, db *pgxpool.Pool) (done bool, err error) {
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
			return err
		}
		var v int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
			return fmt.Errorf("reading schema version: %w", err)
		}
		if v > len(migrations) {
			return fmt.Errorf("database schema version %d is newer than this skyd knows (%d): upgrade skyd", v, len(migrations))
		}
		if v == len(migrations) {
			done = true
			return nil
		}
		if _, err := tx.Exec(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, v+1)
		return err
	})
	return done, err
}
