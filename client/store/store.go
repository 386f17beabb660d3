package store

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/skymsg/sky/client/store/envelope"
	"github.com/skymsg/sky/client/store/keyfile"
)

// Store is an unlocked store. Its methods are safe for concurrent use; they
// are serialised internally.
type Store struct {
	dir  string
	lock *os.File // holds the directory lock while the store is open

	mu     sync.Mutex // guards everything below and serialises transactions
	closed bool
	db     *sql.DB
	kf     *keyfile.File // the key file as last written (no secret in it)
	// dataKey sits behind a pointer, like every key a Sealer or Index holds:
	// fmt prints a nested pointer as an address, so even a bad verb on a
	// struct that holds a Store in an unexported field shows no key bytes.
	dataKey *envelope.Key
	seal    *envelope.Sealer
	index   *envelope.Index
	exp     expiryIndex
	seen    seenSet              // the dedupe record's keyed hashes (seen.go)
	clock   func() time.Time     // starts sent messages' countdowns; nil: time.Now
	stmts   map[string]*sql.Stmt // prepared statements by query (stmts.go)

	scrubPending bool      // a replaced secret may still be in the WAL
	lastScrub    time.Time // the last checkpoint (wall clock, rate limit only)
}

// Options are the choices made when a store is created.
type Options struct {
	// KDF is the Argon2id cost of unlocking. The zero value means
	// keyfile.Default (about half a second); anything cheaper is for tests.
	KDF keyfile.Params
	// MaxFailedUnlocks, when positive, erases the store after that many
	// failed unlocks in a row.
	MaxFailedUnlocks int
}

// kv names of the store's own records; the SDK's settings live under
// "setting/".
var (
	kvCheck    = []byte("store/check")
	kvAccount  = []byte("store/account")
	kvIdentity = []byte("store/identity")
	kvPanic    = []byte("store/panic")
	kvBackups  = []byte("store/backups")
	checkValue = []byte("sky store v1")
)

const maxFailedLimit = 1 << 20

// newStore builds a Store around an open database and the data key.
func newStore(dir string, lock *os.File, db *sql.DB, kf *keyfile.File, dataKey *envelope.Key) *Store {
	d := envelope.Derive(dataKey)
	defer d.Zero()
	dk := new(envelope.Key)
	*dk = *dataKey
	return &Store{
		dir:     dir,
		lock:    lock,
		db:      db,
		kf:      kf,
		dataKey: dk,
		seal:    envelope.NewSealer(&d.Seal),
		index:   envelope.NewIndex(&d.Index),
		seen:    seenSet{}, // a new store's; an opened one's is loaded (openStore)
	}
}

// Create makes a new store in dir, which must be empty or not exist yet
// (an interrupted wipe or create found there is finished first), protected by
// passphrase. The store is returned open.
func Create(dir string, passphrase []byte, opts Options) (*Store, error) {
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	if len(passphrase) == 0 {
		return nil, invalid("the passphrase is empty")
	}
	params := opts.KDF
	if params == (keyfile.Params{}) {
		params = keyfile.Default
	}
	if err := params.Validate(); err != nil {
		return nil, invalid(err.Error())
	}
	if opts.MaxFailedUnlocks < 0 || opts.MaxFailedUnlocks > maxFailedLimit {
		return nil, invalid("MaxFailedUnlocks is out of range")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the store directory: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s, err := create(dir, lock, passphrase, params, opts.MaxFailedUnlocks)
	if err != nil {
		lock.Close()
		return nil, err
	}
	return s, nil
}

func create(dir string, lock *os.File, passphrase []byte, params keyfile.Params, maxFailed int) (*Store, error) {
	if _, err := recoverDir(dir, true); err != nil {
		return nil, err
	}
	names, foreign, err := storeEntries(dir)
	switch {
	case err != nil:
		return nil, err
	case len(names) > 0:
		return nil, ErrExists
	case foreign:
		return nil, ErrDirNotEmpty
	}
	// The directory and every file in it are the user's alone.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("restricting the store directory: %w", err)
	}
	dataKey := envelope.NewKey()
	defer dataKey.Zero()
	kf, err := keyfile.New(params, passphrase, &dataKey)
	if err != nil {
		return nil, err
	}
	kf.MaxFailedUnlocks = uint32(maxFailed)
	db, err := openDB(dir)
	if err == nil {
		err = createSchema(db)
	}
	if err == nil {
		// SQLite creates files with the umask's permissions, and later WAL
		// files with the database file's: restrict what exists now.
		for _, name := range []string{dbName, dbName + "-wal"} {
			if cerr := os.Chmod(filepath.Join(dir, name), 0o600); cerr != nil && !errors.Is(cerr, os.ErrNotExist) {
				err = cerr
			}
		}
	}
	if err != nil {
		if db != nil {
			db.Close()
		}
		wipe(dir, true)
		return nil, fmt.Errorf("creating the store database: %w", err)
	}
	s := newStore(dir, lock, db, kf, &dataKey)
	err = s.Update(func(t *Tx) error { return t.put("kv", kvCheck, nil, checkValue) })
	if err == nil {
		err = createKeyFile(dir, kf)
	}
	if err != nil {
		s.closeDB()
		wipe(dir, true)
		return nil, fmt.Errorf("creating the store: %w", err)
	}
	return s, nil
}

// Open unlocks the store in dir with passphrase. An interrupted wipe is
// finished first, before anything else.
//
// It returns:
//   - the open Store, for the real passphrase;
//   - a *WipedError (errors.Is ErrNoStore) when the passphrase was the panic
//     passphrase, or a failed unlock reached the limit: the store is already
//     erased;
//   - a *WrongPassphraseError (errors.Is ErrWrongPassphrase);
//   - ErrNoStore, ErrLocked, ErrCorrupt, ErrNewerVersion, or an I/O error.
//
// Every passphrase costs the same Argon2id derivation and the same two slot
// trials; the attempt is counted durably before the derivation starts.
func Open(dir string, passphrase []byte) (*Store, error) {
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	if ok, err := dirExists(dir); err != nil || !ok {
		if err == nil {
			err = ErrNoStore
		}
		return nil, err
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s, err := open(dir, lock, passphrase)
	if err != nil {
		lock.Close()
		return nil, err
	}
	return s, nil
}

func open(dir string, lock *os.File, passphrase []byte) (*Store, error) {
	if wiped, err := recoverDir(dir, false); err != nil || wiped {
		if err == nil {
			err = ErrNoStore
		}
		return nil, err
	}
	kf, err := readKeyFile(dir)
	if err != nil {
		return nil, err
	}
	u, err := unlock(dir, kf, passphrase, func() {})
	if err != nil {
		return nil, err
	}
	defer u.Zero()
	s, err := openStore(dir, lock, kf, &u.Key)
	if err != nil {
		// The passphrase was right; a damaged database must not count
		// against the user.
		kf.FailedUnlocks = 0
		writeKeyFile(dir, kf)
		return nil, err
	}
	// Re-wrap the real slot with a fresh nonce and refresh the panic slot and
	// payload, so the key file changes the same way at every unlock whether a
	// panic passphrase is set or not.
	kf.Wrap(keyfile.Real, &u.KEK, &u.Key)
	kf.FailedUnlocks = 0
	s.mu.Lock()
	err = s.rewriteKeyFile()
	s.mu.Unlock()
	if err != nil {
		s.closeDB()
		return nil, err
	}
	return s, nil
}

// unlock tries passphrase on the key file. It counts the attempt durably
// first, then does the one derivation and two slot trials of keyfile.Unlock.
// A wrong passphrase that reaches the limit, or the panic passphrase, wipes the
// store (after beforeWipe, which closes whatever is open) and returns a
// *WipedError. Only the real slot is returned.
func unlock(dir string, kf *keyfile.File, passphrase []byte, beforeWipe func()) (keyfile.Unlocked, error) {
	if kf.FailedUnlocks < 1<<32-1 {
		kf.FailedUnlocks++
	}
	if err := writeKeyFile(dir, kf); err != nil {
		return keyfile.Unlocked{}, fmt.Errorf("recording the unlock attempt: %w", err)
	}
	u, err := kf.Unlock(passphrase)
	if errors.Is(err, keyfile.ErrWrongPassphrase) {
		if kf.MaxFailedUnlocks > 0 && kf.FailedUnlocks >= kf.MaxFailedUnlocks {
			beforeWipe()
			if err := wipe(dir, false); err != nil {
				return keyfile.Unlocked{}, err
			}
			return keyfile.Unlocked{}, &WipedError{Reason: TooManyFailedUnlocks}
		}
		left := -1
		if kf.MaxFailedUnlocks > 0 {
			left = int(kf.MaxFailedUnlocks - kf.FailedUnlocks)
		}
		return keyfile.Unlocked{}, &WrongPassphraseError{AttemptsLeft: left}
	}
	if err != nil {
		return keyfile.Unlocked{}, err
	}
	if u.Slot == keyfile.Panic {
		we, backups := panicResult(kf, &u.Key)
		u.Zero()
		beforeWipe()
		if err := wipe(dir, false); err != nil {
			return keyfile.Unlocked{}, err
		}
		eraseBackups(backups)
		return keyfile.Unlocked{}, we
	}
	return u, nil
}

// panicResult reads the payload before the erasure: the account deletion
// choice, the list that wipes the other devices and the backup files to
// erase. A payload that does not open (which
// a store that never recorded the choice can have) still wipes.
func panicResult(kf *keyfile.File, panicKey *envelope.Key) (*WipedError, []string) {
	we := &WipedError{Reason: PanicPassphrase}
	p, err := kf.OpenPayload(panicKey)
	if err != nil {
		return we, nil
	}
	we.DeleteAccount = p.DeleteAccount
	we.WipeList = p.WipeList
	if (p.DeleteAccount || len(p.WipeList) > 0) && len(p.Account) > 0 {
		if a, err := decodeAccount(p.Account); err == nil {
			we.Account = &a
		}
	}
	clear(p.Account)
	return we, p.Backups
}

// openStore opens the database of an unlocked store and checks that it
// belongs to this data key.
func openStore(dir string, lock *os.File, kf *keyfile.File, dataKey *envelope.Key) (*Store, error) {
	// SQLite would create a missing database; a store without one is damaged.
	if _, err := os.Stat(filepath.Join(dir, dbName)); err != nil {
		return nil, corrupt("the database file is missing", err)
	}
	db, err := openDB(dir)
	if err != nil {
		return nil, corrupt("database", err)
	}
	if err := checkSchema(db); err != nil {
		db.Close()
		return nil, err
	}
	s := newStore(dir, lock, db, kf, dataKey)
	err = s.View(func(t *Tx) error {
		v, err := t.get("kv", kvCheck)
		if errors.Is(err, ErrNotFound) || (err == nil && string(v) != string(checkValue)) {
			return corrupt("database does not belong to this key file", nil)
		}
		if err != nil {
			return err
		}
		if err := t.loadExpiries(); err != nil {
			return err
		}
		return t.loadSeen()
	})
	if err != nil {
		s.closeDB()
		return nil, err
	}
	return s, nil
}

// Exists reports whether dir holds a store. It finishes an interrupted wipe
// first, so after a crash mid-wipe it reports false, as on a fresh machine.
// A store in use by another process exists.
func Exists(dir string) (bool, error) {
	if err := checkDir(dir); err != nil {
		return false, err
	}
	if ok, err := dirExists(dir); err != nil || !ok {
		return false, err
	}
	lock, err := lockDir(dir)
	if errors.Is(err, ErrLocked) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	defer lock.Close()
	if wiped, err := recoverDir(dir, false); err != nil || wiped {
		return false, err
	}
	_, err = os.Stat(filepath.Join(dir, keyName))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Close closes the store, forgets its keys and releases the directory.
// Closing twice is harmless.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	err := s.closeDB()
	s.lock.Close()
	return err
}

// closeDB closes the database and forgets the keys, keeping the directory
// lock. The caller holds s.mu or is the only user of s.
func (s *Store) closeDB() error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := errors.Join(s.closeStmts(), s.db.Close())
	s.dataKey.Zero()
	s.seal, s.index = nil, nil
	s.exp.reset()
	s.seen = nil
	if err != nil {
		return fmt.Errorf("closing the store: %w", err)
	}
	return nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// String, GoString and Format show the directory only.
func (s *Store) String() string                { return fmt.Sprintf("store.Store{%s}", s.dir) }
func (s *Store) GoString() string              { return s.String() }
func (s *Store) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }
