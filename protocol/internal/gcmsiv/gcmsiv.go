// Package gcmsiv is AES-256-GCM-SIV (RFC 8452) as sealed sender v2 uses it:
// a fresh key for every message, so the nonce is fixed at twelve zero bytes
// and there is no associated data. The universal hash POLYVAL comes from
// tink-go; this package adds only the mode of RFC 8452 around it and the
// standard library's AES: the per-nonce key derivation, the tag, and the
// counter mode with its 32-bit little-endian counter. It is checked
// against Wycheproof's vectors and, by a fuzz target, against tink-go's own
// AES-GCM-SIV.
package gcmsiv

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"

	tink "github.com/tink-crypto/tink-go/v2/aead/subtle"
)

// KeySize is the key length (AES-256), TagSize the tag's, NonceSize the
// nonce's.
const (
	KeySize   = 32
	TagSize   = 16
	NonceSize = 12
)

// maxPlaintext is RFC 8452's limit on plaintext and associated data: 2^36
// bytes.
const maxPlaintext = 1 << 36

// ErrOpen is returned for every ciphertext that does not authenticate.
var ErrOpen = errors.New("gcmsiv: message authentication failed")

// Seal encrypts plaintext under key with the all-zero nonce and no
// associated data, and returns the ciphertext followed by the 16-byte tag.
// key must be 32 bytes and used for this one message only.
func Seal(key, plaintext []byte) []byte {
	var nonce [NonceSize]byte
	return seal(key, nonce[:], plaintext, nil)
}

// Open reverses Seal: it decrypts and checks the tag (in constant time).
func Open(key, ciphertext []byte) ([]byte, error) {
	var nonce [NonceSize]byte
	return open(key, nonce[:], ciphertext, nil)
}

// seal is AES-256-GCM-SIV encryption (RFC 8452, section 4).
func seal(key, nonce, plaintext, ad []byte) []byte {
	if len(plaintext) > maxPlaintext || len(ad) > maxPlaintext {
		panic("gcmsiv: message too large")
	}
	authKey, enc := deriveKeys(key, nonce)
	tag := computeTag(enc, authKey, nonce, plaintext, ad)
	out := make([]byte, len(plaintext)+TagSize)
	ctr(enc, tag, out[:len(plaintext)], plaintext)
	copy(out[len(plaintext):], tag[:])
	return out
}

// open is AES-256-GCM-SIV decryption (RFC 8452, section 5).
func open(key, nonce, ciphertext, ad []byte) ([]byte, error) {
	if len(ciphertext) < TagSize || len(ciphertext)-TagSize > maxPlaintext || len(ad) > maxPlaintext {
		return nil, ErrOpen
	}
	body, tag := ciphertext[:len(ciphertext)-TagSize], ciphertext[len(ciphertext)-TagSize:]
	authKey, enc := deriveKeys(key, nonce)
	plain := make([]byte, len(body))
	ctr(enc, [TagSize]byte(tag), plain, body)
	want := computeTag(enc, authKey, nonce, plain, ad)
	if subtle.ConstantTimeCompare(want[:], tag) != 1 {
		clear(plain)
		return nil, ErrOpen
	}
	return plain, nil
}

// deriveKeys makes the message-authentication key and the message-encryption
// cipher from the key-generating key and the nonce: the first eight bytes of
// AES(key, LE32(i) || nonce) for i = 0, 1 (authentication) and 2..5
// (encryption).
func deriveKeys(key, nonce []byte) ([16]byte, cipher.Block) {
	kg, err := aes.NewCipher(key)
	if err != nil || len(key) != KeySize || len(nonce) != NonceSize {
		panic("gcmsiv: key must be 32 bytes and nonce 12")
	}
	var in, out [aes.BlockSize]byte
	copy(in[4:], nonce)
	var derived [48]byte
	for i := range 6 {
		binary.LittleEndian.PutUint32(in[:4], uint32(i))
		kg.Encrypt(out[:], in[:])
		copy(derived[8*i:], out[:8])
	}
	enc, _ := aes.NewCipher(derived[16:48])
	clear(derived[16:])
	return [16]byte(derived[:16]), enc
}

// computeTag is AES(enc, POLYVAL(authKey, ad, plaintext, lengths) XOR nonce,
// with the top bit of the last byte cleared).
func computeTag(enc cipher.Block, authKey [16]byte, nonce, plaintext, ad []byte) [TagSize]byte {
	p, err := tink.NewPolyval(authKey[:])
	if err != nil {
		panic("gcmsiv: " + err.Error()) // unreachable: the key is 16 bytes
	}
	var lengths [16]byte
	binary.LittleEndian.PutUint64(lengths[:8], uint64(len(ad))*8)
	binary.LittleEndian.PutUint64(lengths[8:], uint64(len(plaintext))*8)
	p.Update(ad)
	p.Update(plaintext)
	p.Update(lengths[:])
	s := p.Finish()
	subtle.XORBytes(s[:NonceSize], s[:NonceSize], nonce)
	s[15] &= 0x7f
	var tag [TagSize]byte
	enc.Encrypt(tag[:], s[:])
	return tag
}

// ctr is RFC 8452's counter mode: the initial block is the tag with its top
// bit set, and only its first 32 bits, little-endian, count (wrapping).
func ctr(enc cipher.Block, tag [TagSize]byte, dst, src []byte) {
	counter := tag
	counter[15] |= 0x80
	n := binary.LittleEndian.Uint32(counter[:4])
	var ks [aes.BlockSize]byte
	for len(src) > 0 {
		binary.LittleEndian.PutUint32(counter[:4], n)
		enc.Encrypt(ks[:], counter[:])
		k := subtle.XORBytes(dst, src, ks[:])
		dst, src = dst[k:], src[k:]
		n++
	}
}
