package store

import (
	"bytes"
	"crypto/subtle"
	"errors"

	"github.com/skymsg/sky/client/store/envelope"
	"github.com/skymsg/sky/client/store/keyfile"
)

// ChangePassphrase re-wraps the data key under next, after checking current
// like an unlock does: a wrong current passphrase counts as a failed unlock,
// and the panic passphrase wipes the store (then the Store is closed and a
// *WipedError is returned). next must differ from the panic passphrase.
func (s *Store) ChangePassphrase(current, next []byte) error {
	if len(next) == 0 {
		return invalid("the new passphrase is empty")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	u, err := unlock(s.dir, s.kf, current, func() { s.closeDB() })
	var wiped *WipedError
	if errors.As(err, &wiped) {
		s.lock.Close()
		return err
	}
	if err != nil {
		return err
	}
	defer u.Zero()
	if u.Key != *s.dataKey {
		return corrupt("the key file holds another data key than the open store", nil)
	}
	kek := s.kf.Derive(next)
	defer kek.Zero()
	ps, err := s.loadPanicState()
	if err != nil {
		return err
	}
	s.kf.FailedUnlocks = 0
	if ps != nil && subtle.ConstantTimeCompare(ps.KEK[:], kek[:]) == 1 {
		ps.zero()
		if err := s.rewriteKeyFile(); err != nil {
			return err
		}
		return ErrSamePassphrase
	}
	if ps != nil {
		ps.zero()
	}
	s.kf.Wrap(keyfile.Real, &kek, s.dataKey)
	return s.rewriteKeyFile()
}

// SetPanic sets (or replaces) the panic passphrase. Typed at any later unlock
// it erases the store. deleteAccount records the user's choice to have the
// account on the server deleted too; the SDK acts on it (WipedError). The
// choice is sealed in the key file under a key only the panic passphrase (or
// this unlocked store) opens, together with the account record, so that a
// panic unlock can read it before erasing.
func (s *Store) SetPanic(panicPassphrase []byte, deleteAccount bool) error {
	return s.SetPanicOptions(panicPassphrase, PanicOptions{DeleteAccount: deleteAccount})
}

// PanicOptions are the user's choices for what the panic passphrase does
// beyond erasing this store.
type PanicOptions struct {
	// DeleteAccount deletes the account on the server.
	DeleteAccount bool
	// WipeList, if set, is a device list signed by the account's identity
	// key (at most keyfile.MaxWipeList bytes) that the SDK publishes at
	// panic, so that the account's other devices erase themselves. It is
	// sealed with the account record under the panic key only.
	WipeList []byte
}

// SetPanicOptions is SetPanic with every choice.
func (s *Store) SetPanicOptions(panicPassphrase []byte, o PanicOptions) error {
	if len(o.WipeList) > keyfile.MaxWipeList {
		return invalid("the wipe list is longer than the key file's payload holds")
	}
	if len(panicPassphrase) == 0 {
		return invalid("the panic passphrase is empty")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	kek := s.kf.Derive(panicPassphrase)
	defer kek.Zero()
	if s.kf.Opens(keyfile.Real, &kek) {
		return ErrSamePassphrase
	}
	ps := panicState{Key: envelope.NewKey(), KEK: kek, DeleteAccount: o.DeleteAccount, WipeList: bytes.Clone(o.WipeList)}
	defer ps.zero()
	return s.runLocked(false, func(t *Tx) error {
		t.rewriteKey, t.scrub = true, true
		return t.put("kv", kvPanic, nil, encodePanicState(&ps))
	})
}

// ClearPanic removes the panic passphrase. The panic slot of the key file
// becomes random bytes again.
func (s *Store) ClearPanic() error {
	return s.Update(func(t *Tx) error {
		t.rewriteKey = true
		_, err := t.del("kv", kvPanic)
		return err
	})
}

// PanicSettings reports whether a panic passphrase is set and whether it
// also deletes the server account.
func (s *Store) PanicSettings() (set, deleteAccount bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, false, ErrClosed
	}
	ps, err := s.loadPanicState()
	if err != nil || ps == nil {
		return false, false, err
	}
	defer ps.zero()
	return true, ps.DeleteAccount, nil
}

// PanicWipesDevices reports whether the panic passphrase orders the
// account's other devices to erase themselves (a wipe list is set).
func (s *Store) PanicWipesDevices() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, ErrClosed
	}
	ps, err := s.loadPanicState()
	if err != nil || ps == nil {
		return false, err
	}
	defer ps.zero()
	return len(ps.WipeList) > 0, nil
}

// SetMaxFailedUnlocks sets how many failed unlocks in a row erase the store;
// 0 turns the limit off. The count restarts at every good unlock.
func (s *Store) SetMaxFailedUnlocks(n int) error {
	if n < 0 || n > maxFailedLimit {
		return invalid("the failed-unlock limit is out of range")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.kf.MaxFailedUnlocks = uint32(n)
	return s.rewriteKeyFile()
}

// MaxFailedUnlocks returns the failed-unlock limit (0: none).
func (s *Store) MaxFailedUnlocks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.kf.MaxFailedUnlocks)
}

// Wipe crypto-erases the store now, exactly as the panic passphrase does,
// and closes it. Use it when the user deletes the account or a wipe order
// signed by the user's own device arrives.
func (s *Store) Wipe() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	backups, _ := s.backupPathsLocked()
	s.closeDB()
	err := wipe(s.dir, false)
	s.lock.Close()
	eraseBackups(backups)
	return err
}

// rewriteKeyFile writes the key file with a freshly sealed panic slot and
// payload (or fresh random bytes when no panic passphrase is set). The real
// slot is written as it stands in s.kf. The caller holds s.mu.
func (s *Store) rewriteKeyFile() error {
	ps, err := s.loadPanicState()
	if err != nil {
		return err
	}
	if ps == nil {
		s.kf.Randomize(keyfile.Panic)
		s.kf.RandomizePayload()
		return writeKeyFile(s.dir, s.kf)
	}
	defer ps.zero()
	p := keyfile.Payload{DeleteAccount: ps.DeleteAccount, WipeList: ps.WipeList}
	if ps.DeleteAccount || len(ps.WipeList) > 0 {
		err := s.runLocked(true, func(t *Tx) error {
			v, err := t.get("kv", kvAccount)
			if err == nil {
				p.Account = v
			}
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	backups, err := s.backupPathsLocked()
	if err != nil {
		return err
	}
	p.Backups = backups[:keyfile.FitBackups(p.Fixed(), backups)]
	s.kf.Wrap(keyfile.Panic, &ps.KEK, &ps.Key)
	err = s.kf.SealPayload(&ps.Key, p)
	clear(p.Account)
	if err != nil {
		return err
	}
	return writeKeyFile(s.dir, s.kf)
}

// loadPanicState returns the panic state, or nil if none is set. The caller
// holds s.mu.
func (s *Store) loadPanicState() (*panicState, error) {
	var ps *panicState
	err := s.runLocked(true, func(t *Tx) error {
		v, err := t.get("kv", kvPanic)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		p, err := decodePanicState(v)
		clear(v)
		if err != nil {
			return corrupt("panic settings", err)
		}
		ps = &p
		return nil
	})
	return ps, err
}
