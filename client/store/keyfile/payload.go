package keyfile

import (
	"encoding/binary"
	"fmt"

	"github.com/skymsg/sky/client/store/envelope"
)

// Payload is what a panic unlock can read before the store is erased: whether
// the user asked for the server account to be deleted on panic, and the
// account record (the store's encoding) needed to do it. It is sealed under
// the panic key, so only the panic passphrase (or the unlocked store, which
// keeps the panic key) opens it.
type Payload struct {
	DeleteAccount bool
	// Account is empty unless DeleteAccount is set.
	Account []byte
}

// String, GoString and Format hide the account record.
func (p Payload) String() string {
	return fmt.Sprintf("keyfile.Payload{DeleteAccount: %t, Account: redacted}", p.DeleteAccount)
}
func (p Payload) GoString() string              { return p.String() }
func (p Payload) Format(f fmt.State, verb rune) { fmt.Fprint(f, p.String()) }

// SealPayload seals p under the panic key with a fresh nonce.
func (f *File) SealPayload(panicKey *envelope.Key, p Payload) error {
	if len(p.Account) > MaxAccount {
		return ErrPayloadTooLarge
	}
	pt := make([]byte, PayloadSize)
	defer clear(pt)
	if p.DeleteAccount {
		pt[0] = 1
	}
	binary.BigEndian.PutUint16(pt[1:], uint16(len(p.Account)))
	copy(pt[3:], p.Account)
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
	if pt[0] > 1 {
		return Payload{}, fmt.Errorf("%w: panic payload has unknown flags", ErrCorrupt)
	}
	n := int(binary.BigEndian.Uint16(pt[1:]))
	if n > MaxAccount {
		return Payload{}, fmt.Errorf("%w: panic payload length %d exceeds %d", ErrCorrupt, n, MaxAccount)
	}
	if !allZero(pt[3+n:]) {
		return Payload{}, fmt.Errorf("%w: panic payload padding is not zero", ErrCorrupt)
	}
	p := Payload{DeleteAccount: pt[0] == 1}
	if n > 0 {
		p.Account = append([]byte(nil), pt[3:3+n]...)
	}
	return p, nil
}

func (f *File) payloadAD() []byte {
	return append(append([]byte(nil), labelPayld...), f.bound()...)
}
