package kdf

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	"github.com/skymsg/sky/protocol/internal/wycheproof"
)

func TestWycheproofHMACSHA256(t *testing.T) {
	var file struct {
		Groups []struct {
			TagSize int `json:"tagSize"`
			Tests   []struct {
				wycheproof.Test
				Key wycheproof.Hex `json:"key"`
				Msg wycheproof.Hex `json:"msg"`
				Tag wycheproof.Hex `json:"tag"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	wycheproof.Load(t, "hmac_sha256_test.json", &file)
	n := 0
	for _, g := range file.Groups {
		for _, tc := range g.Tests {
			mac := HMAC(tc.Key, tc.Msg)
			got := mac[:g.TagSize/8]
			// Feed the message in two pieces as well: the variadic form must agree.
			half := len(tc.Msg) / 2
			mac2 := HMAC(tc.Key, tc.Msg[:half], tc.Msg[half:])
			if mac != mac2 {
				t.Errorf("tc %d: split message gives a different MAC", tc.ID)
			}
			match := bytes.Equal(got, tc.Tag)
			if match != (tc.Result == "valid") {
				t.Errorf("tc %d (%s): tag match = %v, result %s", tc.ID, tc.Comment, match, tc.Result)
			}
			n++
		}
	}
	if n != 174 {
		t.Errorf("ran %d vectors, want 174", n)
	}
}

func TestWycheproofHKDFSHA256(t *testing.T) {
	var file struct {
		Groups []struct {
			Tests []struct {
				wycheproof.Test
				IKM  wycheproof.Hex `json:"ikm"`
				Salt wycheproof.Hex `json:"salt"`
				Info wycheproof.Hex `json:"info"`
				Size int            `json:"size"`
				OKM  wycheproof.Hex `json:"okm"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	wycheproof.Load(t, "hkdf_sha256_test.json", &file)
	n := 0
	for _, g := range file.Groups {
		for _, tc := range g.Tests {
			n++
			out := make([]byte, tc.Size)
			panicked := catch(func() { HKDFParts(out, tc.Salt, tc.IKM, tc.Info) })
			switch tc.Result {
			case "valid":
				if panicked || !bytes.Equal(out, tc.OKM) {
					t.Errorf("tc %d (%s): wrong output", tc.ID, tc.Comment)
				}
			default:
				// The only invalid vectors ask for more than 255*32 bytes.
				if !panicked {
					t.Errorf("tc %d (%s): size %d accepted", tc.ID, tc.Comment, tc.Size)
				}
			}
		}
	}
	if n != 86 {
		t.Errorf("ran %d vectors, want 86", n)
	}
}

func catch(f func()) (panicked bool) {
	defer func() { panicked = recover() != nil }()
	f()
	return false
}

func TestHKDFNoSaltIsZeroSalt(t *testing.T) {
	a, b := make([]byte, 80), make([]byte, 80)
	HKDF(a, nil, []byte("ikm"), "info")
	HKDFParts(b, make([]byte, 32), []byte("ikm"), []byte("in"), []byte("fo"))
	if !bytes.Equal(a, b) {
		t.Fatal("absent salt differs from 32 zero bytes")
	}
}

// FuzzHKDFMatchesStdlib compares HKDF with crypto/hkdf, and Keyed with HMAC.
func FuzzHKDFMatchesStdlib(f *testing.F) {
	f.Add([]byte{}, []byte("ikm"), []byte("info"), uint16(80))
	f.Add(make([]byte, 32), []byte{}, []byte{}, uint16(1))
	f.Add(make([]byte, 31), []byte{1}, []byte{2}, uint16(96))
	f.Add(make([]byte, 100), make([]byte, 300), make([]byte, 70), uint16(500)) // a key longer than a block, data over several
	f.Add(bytes.Repeat([]byte{7}, 64), []byte{1}, []byte{2}, uint16(64))       // a key of exactly one block
	f.Fuzz(func(t *testing.T, salt, ikm, info []byte, n uint16) {
		n %= 600
		got := make([]byte, n)
		HKDFParts(got, salt, ikm, info[:len(info)/2], info[len(info)/2:])
		s := salt
		if len(s) == 0 {
			s = make([]byte, 32)
		}
		want, err := hkdf.Key(sha256.New, ikm, s, string(info), int(n))
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("HKDF differs from crypto/hkdf")
		}
		k := NewKeyed(salt)
		if k.Sum(ikm, info) != HMAC(salt, ikm, info) || k.Sum(info) != HMAC(salt, info) {
			t.Fatal("Keyed differs from HMAC")
		}
		if HMACLong(salt, ikm, info) != HMAC(salt, ikm, info) {
			t.Fatal("HMACLong differs from HMAC")
		}
		m1, m2 := HMACPair(salt, ikm, info)
		if !hmac.Equal(m1[:], stdHMAC(salt, ikm)) || !hmac.Equal(m2[:], stdHMAC(salt, info)) {
			t.Fatal("HMACPair differs from crypto/hmac")
		}
	})
}

// TestKeyedRedacted: a keyed HMAC state prints no key material.
func TestKeyedRedacted(t *testing.T) {
	k := NewKeyed(bytes.Repeat([]byte{0x5a}, 32))
	for _, s := range []string{fmt.Sprintf("%v", k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", &k), fmt.Sprintf("%x", k)} {
		if !strings.Contains(s, "redacted") || strings.Contains(s, "5a") || strings.Contains(s, "[") {
			t.Fatalf("Keyed prints %q", s)
		}
	}
}

func stdHMAC(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}
