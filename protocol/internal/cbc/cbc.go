// Package cbc is AES-256-CBC with PKCS#7 padding, the body cipher of Signal
// messages (and of sender-key messages). crypto/aes and crypto/cipher do the
// work; this package adds and checks the padding.
package cbc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"errors"
)

// ErrDecrypt is returned for a ciphertext that is empty, not a whole number
// of blocks, or whose padding is wrong. It carries no detail on purpose.
var ErrDecrypt = errors.New("cbc: bad ciphertext length or padding")

// Encrypt returns the encryption of plaintext under key (16, 24 or 32 bytes)
// and a 16-byte iv, padded with PKCS#7; the result is appended to dst.
func Encrypt(dst, key, iv, plaintext []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if len(iv) != aes.BlockSize {
		return nil, errors.New("cbc: iv must be 16 bytes")
	}
	pad := aes.BlockSize - len(plaintext)%aes.BlockSize
	n := len(plaintext) + pad
	out, body := grow(dst, n)
	copy(body, plaintext)
	for i := len(plaintext); i < n; i++ {
		body[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(body, body)
	return out, nil
}

// CiphertextLen is the length of Encrypt's output for n bytes of plaintext.
func CiphertextLen(n int) int { return n - n%aes.BlockSize + aes.BlockSize }

// Decrypt reverses Encrypt, appending the plaintext to dst. It fails with
// ErrDecrypt on a bad length or padding.
func Decrypt(dst, key, iv, ciphertext []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if len(iv) != aes.BlockSize {
		return nil, errors.New("cbc: iv must be 16 bytes")
	}
	if len(ciphertext) == 0 || len(ciphertext)%aes.BlockSize != 0 {
		return nil, ErrDecrypt
	}
	out, body := grow(dst, len(ciphertext))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(body, ciphertext)
	n, ok := unpad(body)
	if !ok {
		clear(body)
		return nil, ErrDecrypt
	}
	return out[:len(out)-len(body)+n], nil
}

// unpad checks PKCS#7 padding in constant time with respect to the padding
// bytes and returns the unpadded length.
func unpad(b []byte) (int, bool) {
	pad := int(b[len(b)-1])
	good := subtle.ConstantTimeLessOrEq(1, pad) & subtle.ConstantTimeLessOrEq(pad, aes.BlockSize)
	for i := 1; i <= aes.BlockSize; i++ {
		inPad := subtle.ConstantTimeLessOrEq(i, pad)
		same := subtle.ConstantTimeByteEq(b[len(b)-i], byte(pad))
		// A byte inside the padding must equal the pad value.
		good &= subtle.ConstantTimeSelect(inPad, same, 1)
	}
	return len(b) - pad, good == 1
}

// grow extends dst by n bytes and returns the whole slice and the new tail.
func grow(dst []byte, n int) (whole, tail []byte) {
	total := len(dst) + n
	if cap(dst) < total {
		nd := make([]byte, len(dst), total)
		copy(nd, dst)
		dst = nd
	}
	whole = dst[:total]
	return whole, whole[len(dst):]
}
