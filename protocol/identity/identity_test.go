package identity

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/skymsg/sky/internal/testvec"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/internal/errs"
)

// TestLibsignalSerialization compares with IdentityKeyPair.serialize() of
// libsignal 0.103.0 (testdata/libsignal_identity.json).
func TestLibsignalSerialization(t *testing.T) {
	var v struct {
		IKP struct{ Private, Public, Serialized string } `json:"identity_key_pair"`
	}
	testvec.Load(t, "testdata/libsignal_identity.json", &v)
	priv, _ := hex.DecodeString(v.IKP.Private)
	p, err := curve.ParsePrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	kp := FromPrivate(p)
	if got := hex.EncodeToString(kp.Public.Bytes()); got != v.IKP.Public {
		t.Fatalf("public key %s, libsignal %s", got, v.IKP.Public)
	}
	ser, _ := kp.MarshalBinary()
	if got := hex.EncodeToString(ser); got != v.IKP.Serialized {
		t.Fatalf("serialized %s, libsignal %s", got, v.IKP.Serialized)
	}
	back, err := Parse(ser)
	if err != nil || back.Public != kp.Public || !back.Private.Equal(kp.Private) {
		t.Fatalf("parse: %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	kp := Generate()
	good, _ := kp.MarshalBinary()
	other, _ := Generate().MarshalBinary()
	mismatched := append(append([]byte{}, good[:35]...), other[35:]...)
	cases := map[string][]byte{
		"empty":            nil,
		"public only":      good[:35],
		"private only":     good[35:],
		"truncated":        good[:len(good)-1],
		"mismatched":       mismatched,
		"wire type varint": {0x08, 0x01, 0x12, 0x00},
		"bad tag":          {0xff},
	}
	for name, b := range cases {
		if _, err := Parse(b); !errors.Is(err, errs.InvalidKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Unknown fields are skipped.
	withExtra := append(append([]byte{}, good...), 0x18, 0x07)
	if got, err := Parse(withExtra); err != nil || got.Public != kp.Public {
		t.Errorf("unknown field: %v", err)
	}
}

func TestRegistrationID(t *testing.T) {
	seen := map[uint32]bool{}
	for i := 0; i < 2000; i++ {
		id := NewRegistrationID()
		if id < 1 || id > 16380 || !ValidRegistrationID(id) {
			t.Fatalf("registration ID %d out of range", id)
		}
		seen[id] = true
	}
	if len(seen) < 1500 {
		t.Errorf("only %d distinct IDs in 2000 draws", len(seen))
	}
	if ValidRegistrationID(0) || ValidRegistrationID(0x4000) {
		t.Error("out-of-range IDs accepted")
	}
}

func TestRedacted(t *testing.T) {
	kp := Generate()
	secret := hex.EncodeToString(kp.Private.Bytes())
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		got := fmt.Sprintf(verb, kp)
		if strings.Contains(got, secret) || !strings.Contains(got, "redacted") || bytes.Contains([]byte(got), kp.Private.Bytes()) {
			t.Errorf("Sprintf(%s) = %q", verb, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	good, _ := Generate().MarshalBinary()
	f.Add(good)
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		kp, err := Parse(b)
		if err != nil {
			return
		}
		again, _ := kp.MarshalBinary()
		kp2, err := Parse(again)
		if err != nil || kp2.Public != kp.Public {
			t.Fatalf("re-encoding does not parse back: %v", err)
		}
	})
}
