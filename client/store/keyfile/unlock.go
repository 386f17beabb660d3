package keyfile

import (
	"crypto/cipher"
	"crypto/subtle"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/skymsg/sky/client/store/envelope"
)

// Unlocked is the result of a successful [File.Unlock].
type Unlocked struct {
	// Slot is the slot the passphrase opened.
	Slot Slot
	// Key is the key from that slot: the data key (Real) or the panic key (Panic).
	Key envelope.Key
	// KEK is the key derived from the passphrase; a caller re-wraps slots with it.
	KEK envelope.Key
}

// Zero overwrites both keys.
func (u *Unlocked) Zero() {
	u.Key.Zero()
	u.KEK.Zero()
}

// String, GoString and Format show only the slot.
func (u Unlocked) String() string                { return "keyfile.Unlocked{" + u.Slot.String() + ", keys redacted}" }
func (u Unlocked) GoString() string              { return u.String() }
func (u Unlocked) Format(f fmt.State, verb rune) { fmt.Fprint(f, u.String()) }

// Unlock derives the key-encryption key from passphrase once and tries it on
// both slots, always both, in the same order, with no early exit. It returns
// ErrWrongPassphrase if neither opens. If both open (a panic passphrase equal
// to the real one, which the store refuses to set), the panic slot wins.
func (f *File) Unlock(passphrase []byte) (Unlocked, error) {
	kek := f.Derive(passphrase)
	real, okReal := f.open(Real, &kek)
	pnc, okPanic := f.open(Panic, &kek)

	// Select without branching on which slot opened.
	var u Unlocked
	sel := subtle.ConstantTimeByteEq(b2u(okPanic), 1)
	subtle.ConstantTimeCopy(1-sel, u.Key[:], real[:])
	subtle.ConstantTimeCopy(sel, u.Key[:], pnc[:])
	u.Slot = Slot(sel)
	u.KEK = kek
	real.Zero()
	pnc.Zero()
	kek.Zero()
	if !okReal && !okPanic {
		u.Zero()
		return Unlocked{}, ErrWrongPassphrase
	}
	return u, nil
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func newAEAD(k *envelope.Key) cipher.AEAD {
	aead, err := chacha20poly1305.NewX(k[:])
	if err != nil {
		panic("keyfile: " + err.Error())
	}
	return aead
}
