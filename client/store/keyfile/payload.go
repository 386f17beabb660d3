package keyfile

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/skymsg/sky/client/store/envelope"
)

// Payload is what a panic unlock can read before the store is erased: whether
// the user asked for the server account to be deleted on panic, whether to
// order the account's other devices to erase themselves (a device list
// signed ahead of time), and the account record (the store's encoding)
// needed to do either. It is sealed under
// the panic key, so only the panic passphrase (or the unlocked store, which
// keeps the panic key) opens it.
type Payload struct {
	DeleteAccount bool
	// Account is empty unless DeleteAccount or WipeList is set.
	Account []byte
	// WipeList, if not empty, is a device list signed by the account's
	// identity key that holds this device alone, with a version far ahead
	// of the account's (package client/core, panicwipe.go): published at
	// panic, it removes every other device, which then erases itself.
	WipeList []byte
	// Backups are the paths of the backup files the client wrote (package
	// client/backup), which a panic unlock erases too. They fill the room
	// the account leaves; Fit says how many fit.
	Backups []string
}

// Payload layout (PayloadSize bytes before sealing): flags (bit 0: delete
// the account, bit 1: backup paths follow, bit 2: a wipe list follows),
// the account's length (2 bytes) and record, then if bit 2 the list's
// length (2 bytes) and the list, then if bit 1 the paths' length (2 bytes)
// and the paths separated by NUL bytes, then zeros.
const (
	flagDelete  = 1
	flagBackups = 2
	flagWipe    = 4
)

// MaxWipeList bounds the wipe list a payload carries.
const MaxWipeList = 512

// Fixed returns how many bytes the account record and the wipe list take
// in a payload (what FitBackups must leave room for).
func (p Payload) Fixed() int {
	n := len(p.Account)
	if len(p.WipeList) > 0 {
		n += 2 + len(p.WipeList)
	}
	return n
}

// FitBackups returns how many of paths (taken in order) fit in a payload
// beside an account record and wipe list of accountLen bytes (Fixed). A path that is empty or
// holds a NUL byte fits nowhere and ends the count.
func FitBackups(accountLen int, paths []string) int {
	room := PayloadSize - 3 - accountLen - 2
	used := 0
	for i, p := range paths {
		if p == "" || strings.IndexByte(p, 0) >= 0 {
			return i
		}
		need := len(p)
		if i > 0 {
			need++
		}
		if used+need > room {
			return i
		}
		used += need
	}
	return len(paths)
}

// String, GoString and Format hide the account record.
func (p Payload) String() string {
	return fmt.Sprintf("keyfile.Payload{DeleteAccount: %t, Account: redacted, WipeList: %t, Backups: %d redacted}", p.DeleteAccount, len(p.WipeList) > 0, len(p.Backups))
}
func (p Payload) GoString() string              { return p.String() }
func (p Payload) Format(f fmt.State, verb rune) { fmt.Fprint(f, p.String()) }

// SealPayload seals p under the panic key with a fresh nonce.
func (f *File) SealPayload(panicKey *envelope.Key, p Payload) error {
	if len(p.Account) > MaxAccount || len(p.WipeList) > MaxWipeList || 3+p.Fixed() > PayloadSize ||
		FitBackups(p.Fixed(), p.Backups) < len(p.Backups) {
		return ErrPayloadTooLarge
	}
	pt := make([]byte, PayloadSize)
	defer clear(pt)
	if p.DeleteAccount {
		pt[0] |= flagDelete
	}
	binary.BigEndian.PutUint16(pt[1:], uint16(len(p.Account)))
	copy(pt[3:], p.Account)
	at := 3 + len(p.Account)
	if len(p.WipeList) > 0 {
		pt[0] |= flagWipe
		binary.BigEndian.PutUint16(pt[at:], uint16(len(p.WipeList)))
		copy(pt[at+2:], p.WipeList)
		at += 2 + len(p.WipeList)
	}
	if len(p.Backups) > 0 {
		pt[0] |= flagBackups
		list := strings.Join(p.Backups, "\x00")
		binary.BigEndian.PutUint16(pt[at:], uint16(len(list)))
		copy(pt[at+2:], list)
	}
	fill(f.payload[:nonceSize])
	newAEAD(panicKey).Seal(f.payload[:nonceSize], f.payload[:nonceSize], pt, f.payloadAD())
	return nil
}

// RandomizePayload fills the payload with random bytes, as when no panic
// passphrase is set.
func (f *File) RandomizePayload() { fill(f.payload[:]) }

// OpenPayload opens the payload with the panic key.
func (f *File) OpenPayload(panicKey *envelope.Key) (Payload, error) {
	pt, err := newAEAD(panicKey).Open(nil, f.payload[:nonceSize], f.payload[nonceSize:], f.payloadAD())
	if err != nil {
		return Payload{}, fmt.Errorf("%w: the panic payload does not open with the panic key", ErrCorrupt)
	}
	defer clear(pt)
	return DecodePayload(pt)
}

// DecodePayload decodes the 1024-byte plaintext of a payload.
func DecodePayload(pt []byte) (Payload, error) {
	if len(pt) != PayloadSize {
		return Payload{}, fmt.Errorf("%w: panic payload is %d bytes, not %d", ErrCorrupt, len(pt), PayloadSize)
	}
	if pt[0] > flagDelete|flagBackups|flagWipe {
		return Payload{}, fmt.Errorf("%w: panic payload has unknown flags", ErrCorrupt)
	}
	n := int(binary.BigEndian.Uint16(pt[1:]))
	if n > MaxAccount {
		return Payload{}, fmt.Errorf("%w: panic payload length %d exceeds %d", ErrCorrupt, n, MaxAccount)
	}
	p := Payload{DeleteAccount: pt[0]&flagDelete != 0}
	if n > 0 {
		p.Account = append([]byte(nil), pt[3:3+n]...)
	}
	end := 3 + n
	if pt[0]&flagWipe != 0 {
		if end+2 > PayloadSize {
			return Payload{}, fmt.Errorf("%w: panic payload's wipe list overruns it", ErrCorrupt)
		}
		m := int(binary.BigEndian.Uint16(pt[end:]))
		if m == 0 || m > MaxWipeList || m > PayloadSize-end-2 {
			return Payload{}, fmt.Errorf("%w: panic payload's wipe list overruns it", ErrCorrupt)
		}
		p.WipeList = append([]byte(nil), pt[end+2:end+2+m]...)
		end += 2 + m
	}
	if pt[0]&flagBackups != 0 {
		if end+2 > PayloadSize {
			return Payload{}, fmt.Errorf("%w: panic payload's backup list overruns it", ErrCorrupt)
		}
		m := int(binary.BigEndian.Uint16(pt[end:]))
		if m == 0 || m > PayloadSize-end-2 {
			return Payload{}, fmt.Errorf("%w: panic payload's backup list overruns it", ErrCorrupt)
		}
		p.Backups = strings.Split(string(pt[end+2:end+2+m]), "\x00")
		if slices.Contains(p.Backups, "") {
			return Payload{}, fmt.Errorf("%w: panic payload's backup list has an empty path", ErrCorrupt)
		}
		end += 2 + m
	}
	if !allZero(pt[end:]) {
		return Payload{}, fmt.Errorf("%w: panic payload padding is not zero", ErrCorrupt)
	}
	return p, nil
}

func (f *File) payloadAD() []byte {
	return append(append([]byte(nil), labelPayld...), f.bound()...)
}
