package store

import (
	"errors"
	"fmt"
)

// Errors returned by the store. Every message says what failed and what to
// do; none contains a secret, a passphrase or a piece of content. Compare with
// errors.Is.
var (
	ErrNoStore         = errors.New("there is no Sky store in this directory; create one (sky init)")
	ErrExists          = errors.New("a Sky store already exists in this directory; open it instead of creating one")
	ErrDirNotEmpty     = errors.New("the directory holds files that are not part of a Sky store; give the store a directory of its own")
	ErrWrongPassphrase = errors.New("wrong passphrase; try again")
	ErrLocked          = errors.New("the Sky store is in use by another process (for example the sky daemon); stop it or talk to it instead")
	ErrCorrupt         = errors.New("the Sky store is damaged or was altered; restore it from a backup or create a new one")
	ErrNewerVersion    = errors.New("the Sky store was written by a newer version of Sky; upgrade Sky to open it")
	ErrClosed          = errors.New("the Sky store is closed; open it again")
	ErrSamePassphrase  = errors.New("the panic passphrase must differ from the passphrase; choose another")
	ErrNotFound        = errors.New("no such record in the Sky store")
	ErrTooLarge        = errors.New("the record is too large for the Sky store")
	ErrInvalid         = errors.New("invalid argument to the Sky store")
	ErrUnsupported     = errors.New("the Sky store cannot lock its directory on this operating system")
)

// WrongPassphraseError is returned by Open (and ChangePassphrase) when the
// passphrase opens nothing. errors.Is(err, ErrWrongPassphrase) is true.
type WrongPassphraseError struct {
	// AttemptsLeft is how many more failed unlocks the store accepts before it
	// erases itself, or -1 when there is no limit.
	AttemptsLeft int
}

func (e *WrongPassphraseError) Error() string {
	if e.AttemptsLeft < 0 {
		return ErrWrongPassphrase.Error()
	}
	return fmt.Sprintf("wrong passphrase; %d more failed attempts erase the store", e.AttemptsLeft)
}

// Is makes errors.Is(err, ErrWrongPassphrase) true.
func (e *WrongPassphraseError) Is(target error) bool { return target == ErrWrongPassphrase }

// WipeReason says why a store erased itself.
type WipeReason int

const (
	// PanicPassphrase: the panic passphrase was typed.
	PanicPassphrase WipeReason = iota + 1
	// TooManyFailedUnlocks: the configured number of failed unlocks was reached.
	TooManyFailedUnlocks
)

func (r WipeReason) String() string {
	switch r {
	case PanicPassphrase:
		return "panic passphrase"
	case TooManyFailedUnlocks:
		return "too many failed unlocks"
	}
	return "unknown"
}

// WipedError is returned by Open (and ChangePassphrase) when the passphrase
// erased the store. By the time it is returned the erasure is complete and
// durable: the directory looks as if Sky had never run there.
//
// Its message is the same as ErrNoStore's and errors.Is(err, ErrNoStore) is
// true, so a caller that does not look closer shows what a fresh install
// shows. The SDK checks for it first with errors.As and, when DeleteAccount is
// set, deletes the account on the server with Account.
type WipedError struct {
	Reason WipeReason
	// DeleteAccount is the user's choice, made when the panic passphrase was
	// set, to delete the server account on panic. It is only known after a
	// panic passphrase (the failed-unlock wipe cannot read it).
	DeleteAccount bool
	// Account holds what is needed to delete the account; it is nil unless
	// DeleteAccount or WipeList is set and an account was recorded.
	Account *Account
	// WipeList is the signed device list the user chose, on setting the
	// panic passphrase, to have published so that the account's other
	// devices erase themselves (nil: not chosen). It is public once
	// published; before, it is an order only the panic passphrase opens.
	WipeList []byte
}

func (e *WipedError) Error() string { return ErrNoStore.Error() }

// Is makes errors.Is(err, ErrNoStore) true.
func (e *WipedError) Is(target error) bool { return target == ErrNoStore }

// String, GoString and Format show the reason and the choice, never the
// account credential.
func (e *WipedError) String() string {
	return fmt.Sprintf("store.WipedError{Reason: %v, DeleteAccount: %t, WipeList: %t, Account: %v}", e.Reason, e.DeleteAccount, e.WipeList != nil, e.Account)
}
func (e *WipedError) GoString() string              { return e.String() }
func (e *WipedError) Format(f fmt.State, verb rune) { fmt.Fprint(f, e.String()) }

// corrupt wraps ErrCorrupt with what was found; what must never carry a
// secret or content.
func corrupt(what string, err error) error {
	if err != nil {
		return fmt.Errorf("%w (%s: %v)", ErrCorrupt, what, err)
	}
	return fmt.Errorf("%w (%s)", ErrCorrupt, what)
}

func invalid(what string) error { return fmt.Errorf("%w: %s", ErrInvalid, what) }
