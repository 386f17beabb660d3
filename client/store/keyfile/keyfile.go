// Package keyfile is the format of the key file of Sky's encrypted client
// store: the file that holds the store's data key, wrapped under a key derived
// from the user's passphrase with Argon2id, and the panic slot.
//
// # Layout
//
// The file is 8192 bytes: two identical 4096-byte halves, A then B, so that a
// write torn by a crash leaves one good copy. Writers update A, sync, then B,
// sync; readers take the valid half with the higher generation. Each half is:
//
//	off  len  field
//	0    8    magic "SKYSTORE"
//	8    1    format version (1)
//	9    3    zero
//	12   8    generation, incremented by every write
//	20   4    Argon2id time (passes)
//	24   4    Argon2id memory in KiB
//	28   1    Argon2id threads (lanes)
//	29   3    zero
//	32   32   salt
//	64   4    failed unlocks since the last good one
//	68   4    wipe after this many failed unlocks (0: never)
//	72   72   slot 0 (real):  nonce(24) || XChaCha20-Poly1305(KEK, data key)
//	144  72   slot 1 (panic): nonce(24) || XChaCha20-Poly1305(KEK, panic key)
//	216  1064 panic payload: nonce(24) || XChaCha20-Poly1305(panic key, 1024 bytes)
//	1280 32   SHA-256 of bytes 0..1279 (detects torn writes and damage)
//	1312 2784 zero
//
// Both slots and the payload are always present. An unused panic slot and
// payload hold random bytes, which cannot be told apart from sealed ones, so
// the file does not show whether a panic passphrase is set. All integers are
// big-endian.
//
// # One derivation, two slots
//
// Both slots share the salt, so one Argon2id derivation yields the key that
// is tried on both. [File.Unlock] always derives once and tries both slots,
// whichever passphrase was typed, so a real and a panic unlock do the same
// work up to the moment the caller acts on the result.
//
// The counters are not authenticated: they guard against guessing through the
// program, not against someone who copies the file (Argon2id guards there).
//
// # Wipe marker
//
// A wipe first overwrites the first 16 bytes with [WipeMarker] and syncs, then
// overwrites the whole file. A file that starts with the marker is a wipe in
// progress, whatever follows; [Parse] reports it as [ErrWiped].
package keyfile

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/skymsg/sky/client/store/envelope"
)

// Sizes of the file and its parts.
const (
	HalfSize = 4096
	Size     = 2 * HalfSize
	SaltSize = 32

	// PayloadSize is the fixed plaintext size of the panic payload.
	PayloadSize = 1024
	// MaxAccount is the largest account record the payload can carry.
	MaxAccount = PayloadSize - 3

	nonceSize    = 24
	tagSize      = 16
	slotSize     = nonceSize + envelope.KeySize + tagSize
	sealedPaySz  = nonceSize + PayloadSize + tagSize
	offGen       = 12
	offParams    = 20
	offSalt      = 32
	offFailed    = 64
	offMaxFailed = 68
	offSlot0     = 72
	offPayload   = offSlot0 + 2*slotSize
	offChecksum  = offPayload + sealedPaySz
	contentEnd   = offChecksum + sha256.Size
	formatVer    = 1
)

var (
	magic      = [8]byte{'S', 'K', 'Y', 'S', 'T', 'O', 'R', 'E'}
	wipeMagic  = [8]byte{'S', 'K', 'Y', 'W', 'I', 'P', 'E', 'D'}
	labelSlot  = []byte("sky keyfile v1 slot")
	labelPayld = []byte("sky keyfile v1 panic payload")
)

// Errors. Parse wraps ErrCorrupt with the reason.
var (
	ErrCorrupt         = errors.New("the key file is damaged or is not a Sky key file")
	ErrWiped           = errors.New("the key file was erased by a wipe")
	ErrWrongPassphrase = errors.New("the passphrase does not open this store")
	ErrPayloadTooLarge = fmt.Errorf("the account record is larger than the %d bytes the panic payload holds", MaxAccount)
)

// Slot names one of the two wrapped keys.
type Slot int

const (
	// Real holds the data key; the real passphrase opens it.
	Real Slot = 0
	// Panic holds the panic key; the panic passphrase opens it.
	Panic Slot = 1
)

func (s Slot) String() string {
	if s == Panic {
		return "panic"
	}
	return "real"
}

// File is a decoded key file.
type File struct {
	Params     Params
	Salt       [SaltSize]byte
	Generation uint64
	// FailedUnlocks counts unlocks that matched no slot since the last good one.
	FailedUnlocks uint32
	// MaxFailedUnlocks, when not zero, is the count of failed unlocks after
	// which the store wipes itself.
	MaxFailedUnlocks uint32

	slots   [2][slotSize]byte
	payload [sealedPaySz]byte
}

// New returns a key file whose real slot wraps dataKey under a key derived
// from passphrase with params and a fresh salt. The panic slot and payload are
// random.
func New(params Params, passphrase []byte, dataKey *envelope.Key) (*File, error) {
	if err := params.Validate(); err != nil {
		return nil, err
	}
	f := &File{Params: params}
	fill(f.Salt[:])
	kek := f.Derive(passphrase)
	defer kek.Zero()
	f.Wrap(Real, &kek, dataKey)
	f.Randomize(Panic)
	f.RandomizePayload()
	return f, nil
}

// Derive runs Argon2id on passphrase with the file's parameters and salt and
// returns the key-encryption key.
func (f *File) Derive(passphrase []byte) envelope.Key {
	return Derive(f.Params, f.Salt[:], passphrase)
}

// Wrap seals key into slot under kek with a fresh nonce.
func (f *File) Wrap(slot Slot, kek, key *envelope.Key) {
	s := &f.slots[slot]
	fill(s[:nonceSize])
	aead := newAEAD(kek)
	aead.Seal(s[:nonceSize], s[:nonceSize], key[:], f.slotAD(slot))
}

// Randomize fills slot with random bytes, which no key opens.
func (f *File) Randomize(slot Slot) { fill(f.slots[slot][:]) }

// Opens reports whether kek opens slot.
func (f *File) Opens(slot Slot, kek *envelope.Key) bool {
	k, ok := f.open(slot, kek)
	k.Zero()
	return ok
}

// open tries kek on one slot. It is the only place a slot is decrypted, and it
// counts its calls for the tests that prove both unlock paths do equal work.
func (f *File) open(slot Slot, kek *envelope.Key) (envelope.Key, bool) {
	slotOpens.Add(1)
	s := &f.slots[slot]
	var out envelope.Key
	pt, err := newAEAD(kek).Open(out[:0], s[:nonceSize], s[nonceSize:], f.slotAD(slot))
	if err != nil || len(pt) != envelope.KeySize {
		out.Zero()
		return out, false
	}
	return out, true
}

func (f *File) slotAD(slot Slot) []byte {
	ad := append(bytes.Clone(labelSlot), byte(slot))
	return append(ad, f.bound()...)
}

// bound is the part of the header every sealed part is bound to: format
// version, Argon2id parameters and salt. Counters and generation are left out
// because they change without re-sealing.
func (f *File) bound() []byte {
	b := []byte{formatVer}
	b = f.Params.append(b)
	return append(b, f.Salt[:]...)
}

func fill(b []byte) {
	if _, err := rand.Read(b); err != nil {
		panic("keyfile: crypto/rand failed: " + err.Error())
	}
}

// MarshalHalf encodes the file as one 4096-byte half. A writer stores it
// twice, at offset 0 and at offset HalfSize, syncing after each.
func (f *File) MarshalHalf() []byte {
	b := make([]byte, HalfSize)
	copy(b, magic[:])
	b[8] = formatVer
	binary.BigEndian.PutUint64(b[offGen:], f.Generation)
	f.Params.put(b[offParams:offSalt])
	copy(b[offSalt:], f.Salt[:])
	binary.BigEndian.PutUint32(b[offFailed:], f.FailedUnlocks)
	binary.BigEndian.PutUint32(b[offMaxFailed:], f.MaxFailedUnlocks)
	copy(b[offSlot0:], f.slots[0][:])
	copy(b[offSlot0+slotSize:], f.slots[1][:])
	copy(b[offPayload:], f.payload[:])
	sum := sha256.Sum256(b[:offChecksum])
	copy(b[offChecksum:], sum[:])
	return b
}

// Parse decodes a whole key file (both halves). It returns the valid half with
// the higher generation, ErrWiped if the file carries the wipe marker, and an
// error wrapping ErrCorrupt if neither half is valid.
func Parse(b []byte) (*File, error) {
	if IsWipeMarked(b) {
		return nil, ErrWiped
	}
	if len(b) != Size {
		return nil, fmt.Errorf("%w: it is %d bytes long, not %d", ErrCorrupt, len(b), Size)
	}
	a, errA := parseHalf(b[:HalfSize])
	c, errB := parseHalf(b[HalfSize:])
	switch {
	case errA != nil && errB != nil:
		return nil, fmt.Errorf("%w: both copies are bad (first copy: %v)", ErrCorrupt, errA)
	case errA != nil:
		return c, nil
	case errB != nil:
		return a, nil
	case c.Generation > a.Generation:
		return c, nil
	default:
		return a, nil
	}
}

func parseHalf(b []byte) (*File, error) {
	if !bytes.Equal(b[:8], magic[:]) {
		return nil, errors.New("no Sky key file signature")
	}
	if b[8] != formatVer {
		return nil, fmt.Errorf("unknown format version %d", b[8])
	}
	sum := sha256.Sum256(b[:offChecksum])
	if !bytes.Equal(sum[:], b[offChecksum:contentEnd]) {
		return nil, errors.New("checksum mismatch")
	}
	if !allZero(b[9:12]) || !allZero(b[29:32]) || !allZero(b[contentEnd:]) {
		return nil, errors.New("reserved bytes are not zero")
	}
	f := &File{Params: getParams(b[offParams:offSalt])}
	if err := f.Params.Validate(); err != nil {
		return nil, err
	}
	f.Generation = binary.BigEndian.Uint64(b[offGen:])
	copy(f.Salt[:], b[offSalt:])
	f.FailedUnlocks = binary.BigEndian.Uint32(b[offFailed:])
	f.MaxFailedUnlocks = binary.BigEndian.Uint32(b[offMaxFailed:])
	copy(f.slots[0][:], b[offSlot0:])
	copy(f.slots[1][:], b[offSlot0+slotSize:])
	copy(f.payload[:], b[offPayload:])
	return f, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// WipeMarker returns the 16 bytes a wipe writes over the start of the file
// before it erases the rest.
func WipeMarker() []byte {
	m := make([]byte, 16)
	copy(m, wipeMagic[:])
	return m
}

// IsWipeMarked reports whether b, the start of a key file, carries the wipe
// marker.
func IsWipeMarked(b []byte) bool {
	return len(b) >= len(wipeMagic) && bytes.Equal(b[:len(wipeMagic)], wipeMagic[:])
}

// String, GoString and Format show the parameters and counters only, never a
// slot or the payload.
func (f File) String() string {
	return fmt.Sprintf("keyfile.File{generation %d, %v, failed %d/%d}", f.Generation, f.Params, f.FailedUnlocks, f.MaxFailedUnlocks)
}
func (f File) GoString() string              { return f.String() }
func (f File) Format(s fmt.State, verb rune) { fmt.Fprint(s, f.String()) }
