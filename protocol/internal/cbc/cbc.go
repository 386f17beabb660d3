// Package cbc is AES-256-CBC with PKCS#7 padding, the body cipher of Signal
// messages (and of sender-key messages). crypto/aes does the block cipher;
// crypto/cipher chains long bodies, and this package chains short ones itself
// (see small) and adds and checks the padding.
package cbc

import (
	"bytes"
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
	if n <= small {
		encryptBlocks(block, iv, body)
	} else {
		cipher.NewCBCEncrypter(block, heapIV(iv)).CryptBlocks(body, body)
	}
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
	if len(body) <= small {
		decryptBlocks(block, iv, body, ciphertext)
	} else {
		cipher.NewCBCDecrypter(block, heapIV(iv)).CryptBlocks(body, ciphertext)
	}
	n, ok := unpad(body)
	if !ok {
		clear(body)
		return nil, ErrDecrypt
	}
	return out[:len(out)-len(body)+n], nil
}

// small is the longest body (in bytes) chained here block by block. crypto/cipher's
// CBC modes copy the whole key schedule into a new 512-byte value per message,
// which costs a short message more than its few blocks' calls through the
// cipher.Block interface; a long one gains from crypto/cipher's loop, which
// has no such call per block.
const small = 1024

// heapIV returns a copy of iv for crypto/cipher's CBC constructors, which
// keep their argument: handed the caller's IV, they would move it (and the
// message keys around it) to the heap for every message, short ones too.
func heapIV(iv []byte) []byte { return bytes.Clone(iv) }

// encryptBlocks encrypts body (whole blocks) in place in CBC mode.
func encryptBlocks(b cipher.Block, iv, body []byte) {
	prev := iv
	for i := 0; i < len(body); i += aes.BlockSize {
		blk := body[i : i+aes.BlockSize]
		subtle.XORBytes(blk, blk, prev)
		b.Encrypt(blk, blk)
		prev = blk
	}
}

// decryptBlocks decrypts src (whole blocks) into dst in CBC mode. It goes
// from the last block to the first, so dst may be src itself: each block's
// predecessor is still ciphertext when it is needed.
func decryptBlocks(b cipher.Block, iv, dst, src []byte) {
	for i := len(src) - aes.BlockSize; i >= 0; i -= aes.BlockSize {
		prev := iv
		if i > 0 {
			prev = src[i-aes.BlockSize : i]
		}
		blk := dst[i : i+aes.BlockSize]
		b.Decrypt(blk, src[i:i+aes.BlockSize])
		subtle.XORBytes(blk, blk, prev)
	}
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
