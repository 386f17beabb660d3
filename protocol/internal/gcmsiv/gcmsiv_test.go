package gcmsiv

import (
	"bytes"
	"testing"

	tink "github.com/tink-crypto/tink-go/v2/aead/subtle"

	"github.com/skymsg/sky/protocol/internal/wycheproof"
)

// TestWycheproof runs Wycheproof's AES-GCM-SIV vectors with 256-bit keys:
// every valid one seals to the expected bytes and opens, every invalid one
// is refused.
func TestWycheproof(t *testing.T) {
	var file struct {
		TestGroups []struct {
			KeySize int `json:"keySize"`
			IVSize  int `json:"ivSize"`
			Tests   []struct {
				wycheproof.Test
				Key wycheproof.Hex `json:"key"`
				IV  wycheproof.Hex `json:"iv"`
				AAD wycheproof.Hex `json:"aad"`
				Msg wycheproof.Hex `json:"msg"`
				CT  wycheproof.Hex `json:"ct"`
				Tag wycheproof.Hex `json:"tag"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	wycheproof.Load(t, "aes_gcm_siv_test.json", &file)
	n := 0
	for _, g := range file.TestGroups {
		if g.KeySize != 256 || g.IVSize != 96 {
			continue
		}
		for _, v := range g.Tests {
			n++
			sealed := append(append([]byte(nil), v.CT...), v.Tag...)
			got, err := open(v.Key, v.IV, sealed, v.AAD)
			switch v.Result {
			case "valid":
				if err != nil || !bytes.Equal(got, v.Msg) {
					t.Errorf("test %d (%s): open = %x, %v; want %x", v.ID, v.Comment, got, err, []byte(v.Msg))
				}
				if s := seal(v.Key, v.IV, v.Msg, v.AAD); !bytes.Equal(s, sealed) {
					t.Errorf("test %d (%s): seal = %x, want %x", v.ID, v.Comment, s, sealed)
				}
			case "invalid":
				if err == nil {
					t.Errorf("test %d (%s): invalid ciphertext opened to %x", v.ID, v.Comment, got)
				}
			}
		}
	}
	if n < 50 {
		t.Fatalf("only %d AES-256-GCM-SIV vectors ran", n)
	}
}

// TestRFC8452 is the first AES-256 vector of RFC 8452 appendix C.2 with a
// plaintext (8 bytes, no associated data).
func TestRFC8452(t *testing.T) {
	key := make([]byte, 32)
	key[0] = 1
	nonce := make([]byte, 12)
	nonce[0] = 3
	pt := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	want := []byte{0xc2, 0xef, 0x32, 0x8e, 0x5c, 0x71, 0xc8, 0x3b, 0x84, 0x31, 0x22, 0x13, 0x0f, 0x73, 0x64, 0xb7, 0x61, 0xe0, 0xb9, 0x74, 0x27, 0xe3, 0xdf, 0x28}
	if got := seal(key, nonce, pt, nil); !bytes.Equal(got, want) {
		t.Fatalf("seal = %x, want %x", got, want)
	}
}

// TestTamper: flipping any bit of a sealed message makes Open fail.
func TestTamper(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	ct := Seal(key, []byte("the shared part of a sealed sender v2 message"))
	for i := range len(ct) * 8 {
		c := append([]byte(nil), ct...)
		c[i/8] ^= 1 << (i % 8)
		if _, err := Open(key, c); err != ErrOpen {
			t.Fatalf("bit %d flipped: Open = %v", i, err)
		}
	}
	if _, err := Open(key, ct[:TagSize-1]); err != ErrOpen {
		t.Fatalf("short ciphertext: %v", err)
	}
}

// FuzzAgainstTink compares Seal and Open with tink-go's AES-GCM-SIV (whose
// ciphertexts carry the nonce in front).
func FuzzAgainstTink(f *testing.F) {
	f.Add(bytes.Repeat([]byte{1}, 32), []byte("hello"), false)
	f.Add(bytes.Repeat([]byte{2}, 32), make([]byte, 100), true)
	f.Fuzz(func(t *testing.T, key, msg []byte, flip bool) {
		if len(key) != KeySize {
			return
		}
		ref, err := tink.NewAESGCMSIV(key)
		if err != nil {
			t.Fatal(err)
		}
		ct := Seal(key, msg)
		if flip && len(msg) > 0 {
			ct[0] ^= 1
		}
		want, wantErr := ref.Decrypt(append(make([]byte, NonceSize), ct...), nil)
		got, err := Open(key, ct)
		if (err == nil) != (wantErr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("Open = %x, %v; tink: %x, %v", got, err, want, wantErr)
		}
		if !flip && !bytes.Equal(got, msg) {
			t.Fatalf("round trip: %x, want %x", got, msg)
		}
	})
}
