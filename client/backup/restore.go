package backup

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/client/store/keyfile"
)

// RestoreOptions are the choices of a restore.
type RestoreOptions struct {
	// Now is the restorer's clock: messages whose deadline is at or before
	// it are not restored. Zero means time.Now().
	Now time.Time
	// KDF is the Argon2id cost of the new store's passphrase (zero: the
	// store's default).
	KDF keyfile.Params
}

// loadBatch is how many records one transaction of a restore writes, and
// loadBytes how many bytes of them it holds at most before writing them
// (records may each be up to maxRecord: 512 of them must not all wait in
// memory).
const (
	loadBatch = 512
	loadBytes = 16 << 20
)

// Restore makes a new store in dir from the backup in r, protected by
// passphrase. dir must not hold a store. The store is built in a directory
// beside dir and moved into place only after the whole backup authenticated
// and loaded; a wrong key, a damaged or truncated file, or any other
// failure leaves nothing behind (the half-built store is crypto-erased).
// The new store has keys of its own, no sessions and no panic passphrase.
func Restore(dir string, r io.Reader, k RecoveryKey, passphrase []byte, opts RestoreOptions) (Summary, error) {
	if ok, err := store.Exists(dir); err != nil || ok {
		if err == nil {
			err = ErrHomeInUse
		}
		return Summary{}, err
	}
	at := now(opts.Now)
	tmp := dir + ".restoring"
	if err := store.Discard(tmp); err != nil {
		return Summary{}, fmt.Errorf("removing an earlier restore that did not finish (%s): %w", tmp, err)
	}
	os.Remove(tmp)
	st, err := store.Create(tmp, passphrase, store.Options{KDF: opts.KDF})
	if err != nil {
		return Summary{}, fmt.Errorf("restoring: creating the new store: %w", err)
	}
	sum, err := load(st, r, k, at)
	if err == nil {
		err = markRestored(st, sum.Created)
	}
	if err == nil {
		err = st.Close()
	}
	if err == nil {
		err = moveInto(tmp, dir)
	}
	if err != nil {
		if st.Wipe() != nil {
			store.Discard(tmp)
		}
		return Summary{}, err
	}
	return sum, nil
}

// load reads the backup into st, in batches of transactions.
func load(st *store.Store, r io.Reader, k RecoveryKey, at time.Time) (Summary, error) {
	l := &loader{st: st, at: at, fw: &fileWriter{dir: filepath.Join(st.Dir(), "attachments")}}
	defer l.fw.close()
	err := Read(r, k, Handler{Meta: l.meta, Row: l.row, Message: l.message, File: l.file})
	if err == nil {
		err = l.flush()
	}
	if cerr := l.fw.close(); err == nil {
		err = cerr
	}
	return l.sum, err
}

// loader applies a backup's records to the new store: records and
// messages in transactions of loadBatch, files as they come.
type loader struct {
	st      *store.Store
	at      time.Time // the restorer's clock
	sum     Summary
	pending []func(*store.Tx) error
	held    int // bytes the pending records hold
	fw      *fileWriter
}

func (l *loader) meta(m Meta) error { l.sum.Meta = m; return nil }

func (l *loader) file(fp FilePiece) error {
	if fp.Offset == 0 {
		l.sum.Files++
	}
	l.sum.FileBytes += int64(len(fp.Data))
	return l.fw.write(fp)
}

func (l *loader) row(row Row) error {
	l.sum.Records++
	row.Key, row.Value = clone(row.Key), clone(row.Value)
	return l.add(len(row.Key)+len(row.Value), func(t *store.Tx) error {
		err := t.Load(row.Table, row.Key, row.Value)
		clear(row.Value)
		return asDamaged(err)
	})
}

func (l *loader) message(m *store.Message) error {
	if !m.ExpiresAt.IsZero() && !m.ExpiresAt.After(l.at) {
		l.sum.LeftOut++ // its deadline passed since the backup was made
		return nil
	}
	l.sum.Messages++
	mm := *m
	mm.Body, mm.Annex = store.Secret(clone(m.Body)), store.Secret(clone(m.Annex))
	return l.add(len(mm.Body)+len(mm.Annex), func(t *store.Tx) error {
		err := t.LoadMessage(&mm, l.at)
		mm.Body.Zero()
		mm.Annex.Zero()
		return asDamaged(err)
	})
}

// asDamaged reports a record the store refuses as a damaged backup.
func asDamaged(err error) error {
	if errors.Is(err, store.ErrInvalid) {
		return fmt.Errorf("%w (%v)", ErrDamaged, err)
	}
	return err
}

func (l *loader) add(size int, f func(*store.Tx) error) error {
	l.pending = append(l.pending, f)
	l.held += size
	if len(l.pending) >= loadBatch || l.held >= loadBytes {
		return l.flush()
	}
	return nil
}

// flush writes the pending records in one transaction.
func (l *loader) flush() error {
	if len(l.pending) == 0 {
		return nil
	}
	err := l.st.Update(func(t *store.Tx) error {
		for _, f := range l.pending {
			if err := f(t); err != nil {
				return err
			}
		}
		return nil
	})
	l.pending, l.held = l.pending[:0], 0
	if err != nil {
		return fmt.Errorf("restoring: %w", err)
	}
	return nil
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// moveInto renames the finished store directory tmp to dir (an empty dir is
// replaced).
func moveInto(tmp, dir string) error {
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("restoring: %s is not empty; restore into a fresh home: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("restoring: moving the new store into place: %w", err)
	}
	syncDir(filepath.Dir(dir))
	return nil
}
