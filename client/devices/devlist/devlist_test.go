package devlist

import (
	"bytes"
	"errors"
	"testing"

	"github.com/skymsg/sky/protocol/curve"
)

func sample(version uint64, ids ...uint32) *List {
	l := &List{Account: "eeyg9rkpxq", Version: version}
	for _, id := range ids {
		d := Device{ID: id, RegistrationID: 1000 + id}
		d.AuthKey[0] = byte(id)
		l.Devices = append(l.Devices, d)
	}
	return l
}

func TestSignVerify(t *testing.T) {
	kp := curve.GenerateKeyPair()
	other := curve.GenerateKeyPair()
	b, err := Sign(sample(3, 1, 2), kp.Private)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verify(b, "eeyg9rkpxq", kp.Public)
	if err != nil || got.Version != 3 || !got.Same(sample(3, 1, 2)) {
		t.Fatalf("Verify = %+v, %v", got, err)
	}
	flip := bytes.Clone(b)
	flip[len(flip)-70] ^= 1 // inside the last device's key
	for name, tc := range map[string]struct {
		b    []byte
		acct string
		key  curve.PublicKey
		want error
	}{
		"other key":     {b, "eeyg9rkpxq", other.Public, ErrSignature},
		"other account": {b, "xcme6gk8ch", kp.Public, ErrAccount},
		"tampered":      {flip, "eeyg9rkpxq", kp.Public, ErrSignature},
		"truncated":     {b[:len(b)-1], "eeyg9rkpxq", kp.Public, ErrMalformed},
		"extended":      {append(bytes.Clone(b), 0), "eeyg9rkpxq", kp.Public, ErrMalformed},
		"empty":         {nil, "eeyg9rkpxq", kp.Public, ErrMalformed},
	} {
		if _, err := Verify(tc.b, tc.acct, tc.key); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}
}

func TestSignRefusesMalformed(t *testing.T) {
	kp := curve.GenerateKeyPair()
	for name, l := range map[string]*List{
		"no devices":   sample(1),
		"version 0":    sample(0, 1),
		"unordered":    sample(1, 2, 1),
		"duplicate":    sample(1, 2, 2),
		"device 0":     sample(1, 0),
		"device 128":   sample(1, 128),
		"too many":     sample(1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17),
		"no account":   {Version: 1, Devices: sample(1, 1).Devices},
		"long account": {Account: string(make([]byte, 65)), Version: 1, Devices: sample(1, 1).Devices},
	} {
		if _, err := Sign(l, kp.Private); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestAccept(t *testing.T) {
	for name, tc := range map[string]struct {
		prev, next *List
		ok         bool
	}{
		"first":          {nil, sample(1, 1), true},
		"newer":          {sample(1, 1), sample(2, 1, 2), true},
		"same":           {sample(2, 1, 2), sample(2, 1, 2), true},
		"replayed older": {sample(2, 1, 2), sample(1, 1), false},
		"fork":           {sample(2, 1, 2), sample(2, 1, 3), false},
	} {
		err := Accept(tc.prev, tc.next)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrRollback)) {
			t.Errorf("%s: err = %v, want ok=%v", name, err, tc.ok)
		}
	}
}

// TestVector checks a list signed once and kept in testdata, so the encoding
// never changes unnoticed.
func TestVector(t *testing.T) {
	v := loadVector(t)
	l, err := Verify(v.Encoded, v.Account, v.Key)
	if err != nil {
		t.Fatal(err)
	}
	if l.Version != v.Version || !slicesEqual(l.IDs(), v.IDs) {
		t.Fatalf("decoded %+v, want version %d devices %v", l, v.Version, v.IDs)
	}
}

func slicesEqual(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func FuzzDecode(f *testing.F) {
	kp := curve.GenerateKeyPair()
	b, _ := Sign(sample(7, 1, 3), kp.Private)
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := Decode(b)
		if err != nil {
			return
		}
		again, err := Sign(l, kp.Private)
		if err != nil {
			t.Fatalf("decoded list does not encode again: %v", err)
		}
		if !bytes.Equal(again[:len(again)-curve.SignatureSize], b[:len(b)-curve.SignatureSize]) {
			t.Fatal("decode and encode disagree")
		}
	})
}
