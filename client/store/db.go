package store

import (
	"database/sql"
	"fmt"
	"path/filepath"

	_ "modernc.org/sqlite" // registers the "sqlite" driver (pure Go)
)

// schemaVersion is kept in SQLite's user_version. Version 2 keeps the
// dedupe record in seen_log; a version-1 store is moved up when opened
// (upgradeSchema), and a version-1 Sky refuses a version-2 store rather
// than miss the dedupe entries it cannot see.
const schemaVersion = 2

// The connection settings. The driver runs the _pragma list (busy_timeout
// first, the rest sorted by name) before the _journal_mode and _synchronous
// keys, so locking_mode=EXCLUSIVE is in force when the database is first read
// in WAL mode: the WAL index then lives in memory, not in a -shm file.
// temp_store keeps SQLite's temporary tables and sort files in memory;
// secure_delete zeroes freed content; synchronous=FULL makes every commit
// durable.
const pragmas = "_pragma=busy_timeout(10000)" +
	"&_pragma=locking_mode(EXCLUSIVE)" +
	"&_pragma=secure_delete(ON)" +
	"&_pragma=temp_store(MEMORY)" +
	"&_journal_mode=WAL" +
	"&_synchronous=FULL" +
	"&_txlock=immediate"

// The tables. Every column named v holds a sealed value (package envelope);
// every BLOB key is a keyed lookup hash; INTEGER keys are local row numbers.
// Nothing else is stored.
var schema = []string{
	// settings, the account, the own identity, the panic state, the check value
	`CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID`,
	// protocol state; grp is the hash of the peer (or of the prekey kind)
	`CREATE TABLE sessions (k BLOB PRIMARY KEY, grp BLOB NOT NULL, v BLOB NOT NULL) WITHOUT ROWID`,
	`CREATE INDEX sessions_grp ON sessions (grp)`,
	`CREATE TABLE identities (k BLOB PRIMARY KEY, grp BLOB NOT NULL, v BLOB NOT NULL) WITHOUT ROWID`,
	`CREATE INDEX identities_grp ON identities (grp)`,
	`CREATE TABLE prekeys (k BLOB PRIMARY KEY, grp BLOB NOT NULL, v BLOB NOT NULL) WITHOUT ROWID`,
	`CREATE INDEX prekeys_grp ON prekeys (grp)`,
	// uses of a reusable prekey (a last-resort Kyber prekey); grp is the
	// prekey's row key, so deleting the prekey deletes them
	`CREATE TABLE prekey_uses (k BLOB PRIMARY KEY, grp BLOB NOT NULL, v BLOB NOT NULL) WITHOUT ROWID`,
	`CREATE INDEX prekey_uses_grp ON prekey_uses (grp)`,
	// people and conversations
	`CREATE TABLE contacts (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID`,
	`CREATE TABLE requests (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID`,
	`CREATE TABLE conversations (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID`,
	// messages: v is sealed under the message's own key, which lives in
	// message_keys (sealed under the data key) and is destroyed on expiry
	`CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, conv BLOB NOT NULL, mid BLOB, v BLOB NOT NULL)`,
	`CREATE INDEX messages_conv ON messages (conv, id)`,
	`CREATE INDEX messages_mid ON messages (mid)`,
	`CREATE TABLE message_keys (id INTEGER PRIMARY KEY, v BLOB NOT NULL)`,
	// the dedupe record and the outgoing queue
	`CREATE TABLE seen (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID`, // before seen_log; read, pruned, not written
	seenLogTable,
	`CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, msg INTEGER, v BLOB NOT NULL)`,
	`CREATE INDEX outbox_msg ON outbox (msg)`,
	fmt.Sprintf(`PRAGMA user_version = %d`, schemaVersion),
}

// seenLogTable holds the dedupe record in the order it is made (seen.go);
// upgradeSchema adds it to a version-1 store.
const seenLogTable = `CREATE TABLE IF NOT EXISTS seen_log (id INTEGER PRIMARY KEY, k BLOB NOT NULL, v BLOB NOT NULL)`

// openDB opens (creating if needed) the database file in dir.
func openDB(dir string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", filepath.Join(dir, dbName)+"?"+pragmas)
	if err != nil {
		return nil, err
	}
	// One connection: the store serialises its transactions anyway, and the
	// exclusive locking mode belongs to a single connection.
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// createSchema makes the tables of a new store.
func createSchema(db *sql.DB) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, stmt := range schema {
		if _, err := tx.Exec(stmt); err != nil {
			return fmt.Errorf("creating the store's tables: %w", err)
		}
	}
	return tx.Commit()
}

// checkSchema verifies that db has the tables this version knows, moving a
// version-1 store up first.
func checkSchema(db *sql.DB) error {
	var v int
	if err := db.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		return corrupt("database", err)
	}
	switch {
	case v > schemaVersion:
		return ErrNewerVersion
	case v == 1:
		return upgradeSchema(db)
	case v < schemaVersion:
		return corrupt("database has no tables", nil)
	}
	return nil
}

// upgradeSchema moves a version-1 store to version 2 in one transaction:
// the table seen_log is added (the older table seen stays, read and pruned).
func upgradeSchema(db *sql.DB) error {
	tx, err := db.Begin()
	if err != nil {
		return corrupt("database", err)
	}
	defer tx.Rollback()
	for _, stmt := range []string{seenLogTable, fmt.Sprintf(`PRAGMA user_version = %d`, schemaVersion)} {
		if _, err := tx.Exec(stmt); err != nil {
			return corrupt("database (upgrading its tables)", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return corrupt("database (upgrading its tables)", err)
	}
	return nil
}

// checkpoint copies the WAL into the database file and truncates the WAL to
// zero bytes, so that rows deleted or replaced (with secure_delete zeroing
// them in the database file) leave no old copy in the WAL either.
func checkpoint(db *sql.DB) error {
	var busy, logFrames, done int
	if err := db.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done); err != nil {
		return fmt.Errorf("checkpointing the store's write-ahead log: %w", err)
	}
	if busy != 0 {
		return fmt.Errorf("checkpointing the store's write-ahead log: the database was busy")
	}
	return nil
}
