// Package authenticator keeps the MAC keys with which the ML-KEM Braid
// authenticates what it streams: the encapsulation-key header that opens an
// epoch and the ciphertext that closes it.
//
// Both parties start from the session's authentication key and mix in each
// epoch's secret as soon as they know it, so a header or ciphertext MAC
// verifies only for a peer that holds the same chain of secrets. Keys and
// labels are those of libsignal's SPQR v1:
//
//	root', mac = HKDF-SHA256(salt = 0³², ikm = root ‖ k,
//	    info = "Signal_PQCKA_V1_MLKEM768:Authenticator Update" ‖ BE64(epoch), 64)
//	MAC = HMAC-SHA256(mac, label ‖ BE64(epoch) ‖ data)
//
// with label "Signal_PQCKA_V1_MLKEM768:ekheader" for headers and
// "Signal_PQCKA_V1_MLKEM768:ciphertext" for ciphertexts; the initial root is
// 32 zero bytes and the first update mixes in the authentication key.
package authenticator

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// MACSize is the size of header and ciphertext MACs.
const MACSize = 32

const (
	updateLabel     = "Signal_PQCKA_V1_MLKEM768:Authenticator Update"
	headerLabel     = "Signal_PQCKA_V1_MLKEM768:ekheader"
	ciphertextLabel = "Signal_PQCKA_V1_MLKEM768:ciphertext"
)

var (
	// ErrHeaderMAC reports an encapsulation-key header whose MAC does not
	// verify: the peer does not share this session's keys, or the data was
	// altered.
	ErrHeaderMAC = errors.New("authenticator: encapsulation key header MAC is invalid")
	// ErrCiphertextMAC reports a ciphertext whose MAC does not verify.
	ErrCiphertextMAC = errors.New("authenticator: ciphertext MAC is invalid")
	// ErrState reports a serialized authenticator of the wrong length.
	ErrState = errors.New("authenticator: serialized state must be 64 bytes")
)

// An Authenticator holds the current root and MAC keys. Its zero value is not
// usable; start with New.
type Authenticator struct {
	root [32]byte
	mac  [32]byte
}

// New returns the authenticator of a session with authentication key
// authKey, whose first epoch is epoch (1 in SPQR v1).
func New(authKey []byte, epoch uint64) Authenticator {
	var a Authenticator
	a.Update(epoch, authKey)
	return a
}

// Update mixes the secret k of epoch into the keys.
func (a *Authenticator) Update(epoch uint64, k []byte) {
	ikm := make([]byte, 0, 32+len(k))
	ikm = append(append(ikm, a.root[:]...), k...)
	info := binary.BigEndian.AppendUint64([]byte(updateLabel), epoch)
	var zero [32]byte
	out, err := hkdf.Key(sha256.New, ikm, zero[:], string(info), 64)
	if err != nil {
		panic("authenticator: " + err.Error()) // unreachable for a 64-byte output
	}
	copy(a.root[:], out[:32])
	copy(a.mac[:], out[32:])
	clear(ikm)
	clear(out)
}

func (a *Authenticator) sum(label string, epoch uint64, data []byte) (out [MACSize]byte) {
	m := hmac.New(sha256.New, a.mac[:])
	m.Write([]byte(label))
	var e [8]byte
	binary.BigEndian.PutUint64(e[:], epoch)
	m.Write(e[:])
	m.Write(data)
	m.Sum(out[:0])
	return out
}

// HeaderMAC returns the MAC of an encapsulation-key header sent in epoch.
func (a *Authenticator) HeaderMAC(epoch uint64, hdr []byte) [MACSize]byte {
	return a.sum(headerLabel, epoch, hdr)
}

// CiphertextMAC returns the MAC of a ciphertext ct1 ‖ ct2 sent in epoch.
func (a *Authenticator) CiphertextMAC(epoch uint64, ct []byte) [MACSize]byte {
	return a.sum(ciphertextLabel, epoch, ct)
}

// VerifyHeader checks a header MAC in constant time.
func (a *Authenticator) VerifyHeader(epoch uint64, hdr, mac []byte) error {
	want := a.HeaderMAC(epoch, hdr)
	if !hmac.Equal(want[:], mac) {
		return ErrHeaderMAC
	}
	return nil
}

// VerifyCiphertext checks a ciphertext MAC in constant time.
func (a *Authenticator) VerifyCiphertext(epoch uint64, ct, mac []byte) error {
	want := a.CiphertextMAC(epoch, ct)
	if !hmac.Equal(want[:], mac) {
		return ErrCiphertextMAC
	}
	return nil
}

// MarshalBinary returns root ‖ mac (64 bytes, secret).
func (a Authenticator) MarshalBinary() ([]byte, error) {
	return a.AppendBinary(make([]byte, 0, 64))
}

// AppendBinary appends the MarshalBinary encoding of a to b.
func (a Authenticator) AppendBinary(b []byte) ([]byte, error) {
	return append(append(b, a.root[:]...), a.mac[:]...), nil
}

// UnmarshalBinary restores the keys from MarshalBinary's output.
func (a *Authenticator) UnmarshalBinary(b []byte) error {
	if len(b) != 64 {
		return ErrState
	}
	copy(a.root[:], b[:32])
	copy(a.mac[:], b[32:])
	return nil
}

// Format, String and GoString keep the keys out of logs under every verb.
func (Authenticator) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }
func (Authenticator) String() string             { return redacted }
func (Authenticator) GoString() string           { return redacted }

const redacted = "<authenticator.Authenticator: redacted>"
