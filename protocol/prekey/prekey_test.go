package prekey

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/pb"
)

var now = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

func newBundle(t testing.TB, ik identity.KeyPair, oneTime bool) *Bundle {
	spk := NewSignedPreKey(3, ik, now)
	kpk := NewKyberPreKey(4, ik, now, true)
	b := &Bundle{
		RegistrationID: 1234, DeviceID: 2,
		SignedPreKeyID: spk.ID, SignedPreKey: spk.KeyPair.Public, SignedPreKeySignature: spk.Signature[:],
		IdentityKey:   ik.Public,
		KyberPreKeyID: kpk.ID, KyberPreKey: kpk.KeyPair.Public, KyberPreKeySignature: kpk.Signature[:],
	}
	if oneTime {
		pk := NewPreKey(5)
		b.PreKeyID, b.PreKey = pk.ID, &pk.KeyPair.Public
	}
	return b
}

func TestSignaturesCoverTypedKeys(t *testing.T) {
	ik := identity.Generate()
	spk := NewSignedPreKey(1, ik, now)
	if !ik.Public.Verify(spk.Signature[:], append([]byte{curve.KeyTypeDjb}, spk.KeyPair.Public.Bytes()[1:]...)) {
		t.Fatal("signed prekey signature is not over 0x05 || key")
	}
	kpk := NewKyberPreKey(1, ik, now, false)
	if !ik.Public.Verify(kpk.Signature[:], kpk.KeyPair.Public.Bytes()) || kpk.KeyPair.Public.Bytes()[0] != 0x08 {
		t.Fatal("Kyber prekey signature is not over 0x08 || key")
	}
	if spk.Timestamp != uint64(now.UnixMilli()) {
		t.Fatalf("timestamp %d", spk.Timestamp)
	}
}

// TestBundleVerify is acceptance test 5 for bundles: a tampered key or
// signature, a signature of the other prekey presented for this one, and a
// bundle signed by another identity are refused.
func TestBundleVerify(t *testing.T) {
	ik := identity.Generate()
	if err := newBundle(t, ik, true).Verify(); err != nil {
		t.Fatalf("honest bundle: %v", err)
	}
	cases := map[string]func(*Bundle){
		"signed prekey signature flipped": func(b *Bundle) { b.SignedPreKeySignature = flip(b.SignedPreKeySignature, 5) },
		"Kyber signature flipped":         func(b *Bundle) { b.KyberPreKeySignature = flip(b.KyberPreKeySignature, 40) },
		"signed prekey replaced":          func(b *Bundle) { b.SignedPreKey = curve.GenerateKeyPair().Public },
		"Kyber prekey replaced": func(b *Bundle) {
			b.KyberPreKey = NewKyberPreKey(9, ik, now, false).KeyPair.Public
		},
		"Kyber signature as EC signature": func(b *Bundle) { b.SignedPreKeySignature = b.KyberPreKeySignature },
		"EC signature as Kyber signature": func(b *Bundle) { b.KyberPreKeySignature = b.SignedPreKeySignature },
		"another identity":                func(b *Bundle) { b.IdentityKey = identity.Generate().Public },
		"63-byte signature":               func(b *Bundle) { b.SignedPreKeySignature = b.SignedPreKeySignature[:63] },
	}
	for name, tamper := range cases {
		b := newBundle(t, ik, true)
		tamper(b)
		if err := b.Verify(); !errors.Is(err, errs.InvalidSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
	b := newBundle(t, ik, false)
	b.KyberPreKey = nil
	if err := b.Verify(); !errors.Is(err, errs.InvalidKey) {
		t.Errorf("bundle without a Kyber prekey: %v", err)
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}

// TestBundleEncoding: round trip, and keys swapped between fields (an EC
// key in the Kyber field and the other way round) are refused as ErrInvalidKey.
func TestBundleEncoding(t *testing.T) {
	ik := identity.Generate()
	for _, oneTime := range []bool{true, false} {
		b := newBundle(t, ik, oneTime)
		enc, err := b.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParseBundle(enc)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Verify(); err != nil {
			t.Fatal(err)
		}
		again, _ := p.MarshalBinary()
		if !bytes.Equal(again, enc) || (p.PreKey != nil) != oneTime {
			t.Fatal("round trip differs")
		}
	}
	b := newBundle(t, ik, true)
	enc, _ := b.MarshalBinary()
	spk, kyber := b.SignedPreKey.Bytes(), b.KyberPreKey.Bytes()
	for name, fields := range map[string][2][]byte{
		"keys swapped":             {kyber, spk},
		"EC key in both":           {spk, spk},
		"Kyber key in both":        {kyber, kyber},
		"raw 32-byte signed key":   {spk[1:], kyber},
		"Kyber key without type":   {spk, kyber[1:]},
		"ML-KEM-typed Kyber field": {spk, append([]byte{0x0A}, kyber[1:]...)},
	} {
		raw := encodeRaw(b, fields[0], fields[1])
		if _, err := ParseBundle(raw); !errors.Is(err, errs.InvalidKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ParseBundle(encodeRaw(b, spk, kyber)); err != nil {
		t.Fatalf("encodeRaw is wrong: %v", err)
	}
	for i := 0; i < len(enc); i += 7 {
		if _, err := ParseBundle(enc[:i]); err == nil {
			t.Errorf("bundle cut to %d bytes accepted", i)
		}
	}
}

// encodeRaw encodes b with the given raw bytes in the signed prekey and
// Kyber prekey fields.
func encodeRaw(b *Bundle, spk, kyber []byte) []byte {
	out := pb.AppendUint64(nil, 1, uint64(b.RegistrationID))
	out = pb.AppendUint64(out, 2, uint64(b.DeviceID))
	out = pb.AppendUint64(out, 5, uint64(b.SignedPreKeyID))
	out = pb.AppendBytes(out, 6, spk)
	out = pb.AppendBytes(out, 7, b.SignedPreKeySignature)
	out = pb.AppendBytes(out, 8, b.IdentityKey.Bytes())
	out = pb.AppendUint64(out, 9, uint64(b.KyberPreKeyID))
	out = pb.AppendBytes(out, 10, kyber)
	return pb.AppendBytes(out, 11, b.KyberPreKeySignature)
}

func TestRecordRoundTrips(t *testing.T) {
	ik := identity.Generate()
	pk := NewPreKey(1)
	spk := NewSignedPreKey(2, ik, now)
	kpk := NewKyberPreKey(3, ik, now, true)
	b1, _ := pk.MarshalBinary()
	b2, _ := spk.MarshalBinary()
	b3, _ := kpk.MarshalBinary()
	p1, err1 := ParsePreKey(b1)
	p2, err2 := ParseSignedPreKey(b2)
	p3, err3 := ParseKyberPreKey(b3)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal(err1, err2, err3)
	}
	if p1.ID != 1 || p1.KeyPair.Public != pk.KeyPair.Public || !p1.KeyPair.Private.Equal(pk.KeyPair.Private) {
		t.Error("prekey differs")
	}
	if p2.Signature != spk.Signature || p2.Timestamp != spk.Timestamp || p2.KeyPair.Public != spk.KeyPair.Public {
		t.Error("signed prekey differs")
	}
	if !p3.LastResort || !p3.KeyPair.Public.Equal(kpk.KeyPair.Public) || p3.Signature != kpk.Signature {
		t.Error("Kyber prekey differs")
	}
	oneTime, _ := NewKyberPreKey(4, ik, now, false).MarshalBinary()
	if last, err := KyberPreKeyLastResort(b3); !last || err != nil {
		t.Errorf("KyberPreKeyLastResort(last resort) = %v, %v", last, err)
	}
	if last, err := KyberPreKeyLastResort(oneTime); last || err != nil {
		t.Errorf("KyberPreKeyLastResort(one-time) = %v, %v", last, err)
	}
	// A public key of the wrong type or size is refused.
	bad := bytes.Replace(b1, pk.KeyPair.Public.Bytes()[:1], []byte{0x08}, 1)
	if _, err := ParsePreKey(bad); !errors.Is(err, errs.InvalidState) {
		t.Errorf("prekey record with a 0x08 public key: %v", err)
	}
	for _, cut := range []int{0, 5, len(b2) - 70} {
		if _, err := ParseSignedPreKey(b2[:cut]); !errors.Is(err, errs.InvalidState) {
			t.Errorf("signed prekey cut to %d: %v", cut, err)
		}
	}
	if _, err := ParseKyberPreKey(b3[:len(b3)/2]); !errors.Is(err, errs.InvalidState) {
		t.Errorf("cut Kyber record: %v", err)
	}
	for _, v := range []any{pk, spk, kpk} {
		s := fmt.Sprintf("%v %+v %#v %s %x", v, v, v, v, v)
		if !strings.Contains(s, "redacted") || strings.Contains(s, fmt.Sprintf("%x", pk.KeyPair.Private.Bytes()[:8])) {
			t.Errorf("record not redacted: %.100s", s)
		}
	}
}

func FuzzParseBundle(f *testing.F) {
	ik := identity.Generate()
	for _, ot := range []bool{true, false} {
		enc, _ := newBundle(f, ik, ot).MarshalBinary()
		f.Add(enc)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseBundle(b)
		if err != nil {
			return
		}
		p.Verify()
		again, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseBundle(again); err != nil {
			t.Fatalf("re-encoded bundle does not parse: %v", err)
		}
	})
}

func FuzzParseRecords(f *testing.F) {
	ik := identity.Generate()
	b1, _ := NewPreKey(1).MarshalBinary()
	b2, _ := NewSignedPreKey(2, ik, now).MarshalBinary()
	b3, _ := NewKyberPreKey(3, ik, now, false).MarshalBinary()
	f.Add(b1)
	f.Add(b2)
	f.Add(b3)
	f.Fuzz(func(t *testing.T, b []byte) {
		ParsePreKey(b)
		ParseSignedPreKey(b)
		ParseKyberPreKey(b)
	})
}
