// Package linkproto is the cryptography of linking a new device to an
// account, pure: the one-time link code, the offer and answer that bind
// both devices' ephemeral X25519 keys to it, and the AEAD the account
// travels under. The server relays all of it and can read none of it.
//
// The existing device makes a code of 20 random bytes R and shows it (text
// and QR). From R both derive the link's ID (the server's name for its
// slots) and a MAC key the server never sees. The existing device's offer
// is its ephemeral key A with a MAC; the new device checks it, and answers
// with its ephemeral key B, its authentication key and registration ID,
// MAC'd together with A. A server that relays a different A or B (a
// machine in the middle) cannot make the MACs, so either device notices.
// The account then travels sealed under a key from X25519(a, B) salted
// with R and bound to A and B.
package linkproto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// CodeBytes is the randomness in a link code.
const CodeBytes = 20

// Sizes of the slots.
const (
	keySize    = 32
	macSize    = 32
	OfferSize  = keySize + macSize
	AnswerSize = keySize + 32 + 4 + macSize
	nonceSize  = 12
)

// Errors.
var (
	ErrCode    = errors.New("linkproto: that is not a link code (32 letters and digits, as 'sky devices link' printed it)")
	ErrMAC     = errors.New("linkproto: the other device's key does not match the link code: the server (or someone) changed it; nothing was linked")
	ErrSealed  = errors.New("linkproto: the sealed account does not open: it was changed on the way; nothing was linked")
	ErrEncoded = errors.New("linkproto: a link message has the wrong length")
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Code is a link code: the secret both devices share.
type Code struct{ r [CodeBytes]byte }

// NewCode makes a fresh code from crypto/rand.
func NewCode() Code {
	var c Code
	rand.Read(c.r[:])
	return c
}

// String is the code as the user types or scans it (lowercase).
func (c Code) String() string { return strings.ToLower(b32.EncodeToString(c.r[:])) }

// Format redacts the code under every fmt verb (%v, %s, %+v, %#v; and so
// in slog and errors): only an explicit String shows it.
func (c Code) Format(f fmt.State, _ rune) { fmt.Fprint(f, "linkproto.Code{…}") }

// ParseCode reads a code as String printed it (case and spaces ignored).
func ParseCode(s string) (Code, error) {
	var c Code
	s = strings.ToUpper(strings.Join(strings.Fields(s), ""))
	b, err := b32.DecodeString(s)
	if err != nil || len(b) != CodeBytes || len(s) != b32.EncodedLen(CodeBytes) {
		return c, ErrCode
	}
	copy(c.r[:], b)
	return c, nil
}

func (c Code) derive(info string, n int) []byte {
	k, err := hkdf.Key(sha256.New, c.r[:], nil, "Sky link v1 "+info, n)
	if err != nil {
		panic(err) // unreachable: n is small
	}
	return k
}

// ID is the link's name at the server (16 bytes).
func (c Code) ID() []byte { return c.derive("id", 16) }

func (c Code) mac(parts ...[]byte) []byte {
	m := hmac.New(sha256.New, c.derive("mac", 32))
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// Ephemeral is one device's ephemeral X25519 key for one link.
type Ephemeral struct{ k *ecdh.PrivateKey }

// NewEphemeral makes a fresh ephemeral key.
func NewEphemeral() Ephemeral {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return Ephemeral{k}
}

// Format redacts the private key under every fmt verb.
func (e Ephemeral) Format(f fmt.State, _ rune) { fmt.Fprint(f, "linkproto.Ephemeral{…}") }

// Public is the ephemeral public key.
func (e Ephemeral) Public() []byte { return e.k.PublicKey().Bytes() }

// Offer is slot 0: the existing device's key with its MAC.
func (c Code) Offer(e Ephemeral) []byte {
	return append(e.Public(), c.mac([]byte("offer"), e.Public())...)
}

// OpenOffer checks an offer and returns the existing device's key.
func (c Code) OpenOffer(b []byte) ([]byte, error) {
	if len(b) != OfferSize {
		return nil, ErrEncoded
	}
	a := b[:keySize]
	if !hmac.Equal(b[keySize:], c.mac([]byte("offer"), a)) {
		return nil, ErrMAC
	}
	return bytes.Clone(a), nil
}

// Answer is what the new device sends back: its ephemeral key, its
// authentication key (Ed25519, public) and registration ID.
type Answer struct {
	Ephemeral      []byte
	AuthKey        []byte
	RegistrationID uint32
}

func (a Answer) body() []byte {
	b := append(bytes.Clone(a.Ephemeral), a.AuthKey...)
	return binary.BigEndian.AppendUint32(b, a.RegistrationID)
}

// SealAnswer is slot 1: ans MAC'd together with the offer's key.
func (c Code) SealAnswer(offerKey []byte, ans Answer) ([]byte, error) {
	if len(ans.Ephemeral) != keySize || len(ans.AuthKey) != 32 {
		return nil, ErrEncoded
	}
	body := ans.body()
	return append(body, c.mac([]byte("answer"), offerKey, body)...), nil
}

// OpenAnswer checks slot 1 against the offer's key.
func (c Code) OpenAnswer(offerKey, b []byte) (Answer, error) {
	if len(b) != AnswerSize {
		return Answer{}, ErrEncoded
	}
	body := b[:len(b)-macSize]
	if !hmac.Equal(b[len(b)-macSize:], c.mac([]byte("answer"), offerKey, body)) {
		return Answer{}, ErrMAC
	}
	return Answer{Ephemeral: bytes.Clone(body[:32]), AuthKey: bytes.Clone(body[32:64]), RegistrationID: binary.BigEndian.Uint32(body[64:])}, nil
}

// key is the AEAD key of the sealed account.
func (c Code) key(own Ephemeral, peer, offerKey, answerKey []byte) (cipher.AEAD, error) {
	pk, err := ecdh.X25519().NewPublicKey(peer)
	if err != nil {
		return nil, ErrEncoded
	}
	ss, err := own.k.ECDH(pk)
	if err != nil {
		return nil, ErrMAC // a low-order key
	}
	k, err := hkdf.Key(sha256.New, ss, c.r[:], "Sky link v1 account "+string(offerKey)+string(answerKey), 32)
	if err != nil {
		return nil, err
	}
	blk, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(blk)
}

// SealAccount is slot 2: the account, sealed by the existing device
// (own) for the new device's answer.
func (c Code) SealAccount(own Ephemeral, ans Answer, account []byte) ([]byte, error) {
	aead, err := c.key(own, ans.Ephemeral, own.Public(), ans.Ephemeral)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, nonceSize)
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, account, []byte("sky link account")), nil
}

// OpenAccount opens slot 2 on the new device (own), whose offer key was
// offerKey.
func (c Code) OpenAccount(own Ephemeral, offerKey, b []byte) ([]byte, error) {
	if len(b) < nonceSize+16 {
		return nil, fmt.Errorf("%w (%d bytes)", ErrSealed, len(b))
	}
	aead, err := c.key(own, offerKey, offerKey, own.Public())
	if err != nil {
		return nil, err
	}
	out, err := aead.Open(nil, b[:nonceSize], b[nonceSize:], []byte("sky link account"))
	if err != nil {
		return nil, ErrSealed
	}
	return out, nil
}
