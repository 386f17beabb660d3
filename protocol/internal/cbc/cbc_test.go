package cbc

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"testing"

	"github.com/skymsg/sky/protocol/internal/wycheproof"
)

func TestWycheproofAESCBCPKCS5(t *testing.T) {
	var file struct {
		Groups []struct {
			Tests []struct {
				wycheproof.Test
				Key wycheproof.Hex `json:"key"`
				IV  wycheproof.Hex `json:"iv"`
				Msg wycheproof.Hex `json:"msg"`
				CT  wycheproof.Hex `json:"ct"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	wycheproof.Load(t, "aes_cbc_pkcs5_test.json", &file)
	n := 0
	for _, g := range file.Groups {
		for _, tc := range g.Tests {
			n++
			pt, err := Decrypt(nil, tc.Key, tc.IV, tc.CT)
			if tc.Result == "valid" {
				if err != nil || !bytes.Equal(pt, tc.Msg) {
					t.Errorf("tc %d (%s): decrypt = %x, %v", tc.ID, tc.Comment, pt, err)
				}
				ct, err := Encrypt(nil, tc.Key, tc.IV, tc.Msg)
				if err != nil || !bytes.Equal(ct, tc.CT) {
					t.Errorf("tc %d (%s): encrypt = %x, %v", tc.ID, tc.Comment, ct, err)
				}
				continue
			}
			if err != ErrDecrypt {
				t.Errorf("tc %d (%s): invalid ciphertext gave %x, %v", tc.ID, tc.Comment, pt, err)
			}
		}
	}
	if n != 216 {
		t.Errorf("ran %d vectors, want 216", n)
	}
}

func TestRejectsBadLengths(t *testing.T) {
	key, iv := make([]byte, 32), make([]byte, 16)
	for _, n := range []int{0, 1, 15, 17, 31} {
		if _, err := Decrypt(nil, key, iv, make([]byte, n)); err != ErrDecrypt {
			t.Errorf("length %d: %v", n, err)
		}
	}
	if _, err := Encrypt(nil, key, iv[:15], nil); err == nil {
		t.Error("15-byte iv accepted")
	}
}

func TestAppendsToDst(t *testing.T) {
	key, iv := bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{9}, 16)
	for n := 0; n < 40; n++ {
		msg := bytes.Repeat([]byte{byte(n)}, n)
		ct, err := Encrypt([]byte("hdr"), key, iv, msg)
		if err != nil || string(ct[:3]) != "hdr" || (len(ct)-3)%16 != 0 || len(ct)-3 <= n {
			t.Fatalf("n=%d: %x %v", n, ct, err)
		}
		pt, err := Decrypt([]byte("x"), key, iv, ct[3:])
		if err != nil || !bytes.Equal(pt[1:], msg) || pt[0] != 'x' {
			t.Fatalf("n=%d: round trip gave %x %v", n, pt, err)
		}
	}
}

// TestShortAndLongAgree checks the block-by-block chaining of short bodies
// against crypto/cipher's CBC for every length up to and past small, and
// decryption in place.
func TestShortAndLongAgree(t *testing.T) {
	key, iv := bytes.Repeat([]byte{3}, 32), bytes.Repeat([]byte{5}, 16)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n <= small+40; n++ {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(i * 7)
		}
		ct, err := Encrypt(nil, key, iv, msg)
		if err != nil {
			t.Fatal(err)
		}
		want := append(bytes.Clone(msg), bytes.Repeat([]byte{byte(len(ct) - n)}, len(ct)-n)...)
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(want, want)
		if !bytes.Equal(ct, want) {
			t.Fatalf("n=%d: encryption differs from crypto/cipher", n)
		}
		pt, err := Decrypt(nil, key, iv, ct)
		if err != nil || !bytes.Equal(pt, msg) {
			t.Fatalf("n=%d: round trip gave %v", n, err)
		}
		decryptBlocks(block, iv, ct, ct)
		if !bytes.Equal(ct[:n], msg) {
			t.Fatalf("n=%d: in-place decryption differs", n)
		}
	}
}
