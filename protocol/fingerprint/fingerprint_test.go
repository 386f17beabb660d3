package fingerprint

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/skymsg/sky/internal/testvec"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/internal/errs"
)

type vector struct {
	Iterations       uint32 `json:"iterations"`
	Version          uint32 `json:"version"`
	LocalID          string `json:"local_id"`
	LocalKey         string `json:"local_key"`
	RemoteID         string `json:"remote_id"`
	RemoteKey        string `json:"remote_key"`
	Displayable      string `json:"displayable"`
	Scannable        string `json:"scannable"`
	MatchesOtherSide bool   `json:"matches_other_side"`
}

func unhex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func key(t *testing.T, s string) curve.PublicKey {
	k, err := curve.ParsePublicKey(unhex(t, s))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestLibsignalFingerprints compares with Fingerprint.new of libsignal
// 0.103.0 (testdata/libsignal_fingerprints.json): version 2 with UUIDs and
// 5200 iterations as the apps use it, version 1 with phone numbers, and
// edge cases (2 iterations, empty identifier, equal identifiers).
func TestLibsignalFingerprints(t *testing.T) {
	var file struct{ Cases []vector }
	testvec.Load(t, "testdata/libsignal_fingerprints.json", &file)
	if len(file.Cases) != 4 {
		t.Fatalf("%d cases", len(file.Cases))
	}
	for i, v := range file.Cases {
		lk, rk := key(t, v.LocalKey), key(t, v.RemoteKey)
		fp, err := New(v.Version, v.Iterations, unhex(t, v.LocalID), lk, unhex(t, v.RemoteID), rk)
		if err != nil {
			t.Fatal(err)
		}
		if fp.Displayable != v.Displayable || len(fp.Displayable) != 60 {
			t.Errorf("case %d: displayable %s, libsignal %s", i, fp.Displayable, v.Displayable)
		}
		if hex.EncodeToString(fp.Scannable) != v.Scannable {
			t.Errorf("case %d: scannable %x, libsignal %s", i, fp.Scannable, v.Scannable)
		}
		other, _ := New(v.Version, v.Iterations, unhex(t, v.RemoteID), rk, unhex(t, v.LocalID), lk)
		if other.Displayable != fp.Displayable {
			t.Errorf("case %d: the two sides display different numbers", i)
		}
		ok, err := Compare(fp.Scannable, other.Scannable)
		if err != nil || ok != v.MatchesOtherSide {
			t.Errorf("case %d: Compare = %v, %v", i, ok, err)
		}
	}
}

func TestCompareRejectsMismatches(t *testing.T) {
	a, b, c := curve.GenerateKeyPair().Public, curve.GenerateKeyPair().Public, curve.GenerateKeyPair().Public
	idA, idB := []byte("alice-uuid-bytes"), []byte("bob-uuid-bytes!!")
	mine, _ := New(Version, 10, idA, a, idB, b)
	theirs, _ := New(Version, 10, idB, b, idA, a)
	mitm, _ := New(Version, 10, idB, c, idA, a) // Bob's key swapped by someone in between
	if ok, err := Compare(mine.Scannable, theirs.Scannable); !ok || err != nil {
		t.Fatalf("honest pair: %v %v", ok, err)
	}
	if ok, _ := Compare(mine.Scannable, mitm.Scannable); ok {
		t.Error("a swapped key compares equal")
	}
	if ok, _ := Compare(mine.Scannable, mine.Scannable); ok {
		t.Error("own fingerprint compares equal to itself (halves not crossed)")
	}
	v1, _ := New(1, 10, idB, b, idA, a)
	if _, err := Compare(mine.Scannable, v1.Scannable); !errors.Is(err, errs.InvalidKey) {
		t.Errorf("version mismatch: %v", err)
	}
	for _, bad := range [][]byte{nil, {0x08}, theirs.Scannable[:10], {0x08, 0x02, 0x12, 0x00}} {
		if _, err := Compare(mine.Scannable, bad); err == nil {
			t.Errorf("malformed %x accepted", bad)
		}
	}
	if !bytes.HasPrefix(mine.Scannable, []byte{0x08, 0x02, 0x12, 0x22, 0x0a, 0x20}) {
		t.Errorf("scannable prefix %x", mine.Scannable[:6])
	}
	for _, it := range []uint32{0, 1, 1_000_001} {
		if _, err := New(Version, it, idA, a, idB, b); err == nil {
			t.Errorf("%d iterations accepted", it)
		}
	}
}

func FuzzCompare(f *testing.F) {
	a, b := curve.GenerateKeyPair().Public, curve.GenerateKeyPair().Public
	fp, _ := New(Version, 2, []byte("a"), a, []byte("b"), b)
	f.Add(fp.Scannable)
	f.Fuzz(func(t *testing.T, theirs []byte) {
		Compare(fp.Scannable, theirs)
	})
}
