package prekey

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/pb"
	"github.com/skymsg/sky/protocol/kem"
)

// Bundle is what a device publishes (through the server) for one session to
// be started with it: its identity key, signed EC prekey, signed Kyber
// prekey and, when one is left, a one-time EC prekey.
type Bundle struct {
	RegistrationID        uint32
	DeviceID              uint32
	PreKeyID              uint32
	PreKey                *curve.PublicKey // nil when no one-time prekey is left
	SignedPreKeyID        uint32
	SignedPreKey          curve.PublicKey
	SignedPreKeySignature []byte
	IdentityKey           curve.PublicKey
	KyberPreKeyID         uint32
	KyberPreKey           *kem.PublicKey
	KyberPreKeySignature  []byte
}

// Verify checks both prekey signatures against the bundle's identity key:
// the signed prekey's over 0x05 || key, the Kyber prekey's over 0x08 || key.
// A bundle that fails is refused with ErrInvalidSignature.
func (b *Bundle) Verify() error {
	if b.KyberPreKey == nil {
		return errs.New(errs.InvalidKey, "bundle has no Kyber prekey; PQXDH requires one")
	}
	if !b.IdentityKey.Verify(b.SignedPreKeySignature, b.SignedPreKey.Bytes()) {
		return errs.New(errs.InvalidSignature, "signed prekey signature does not verify")
	}
	if !b.IdentityKey.Verify(b.KyberPreKeySignature, b.KyberPreKey.Bytes()) {
		return errs.New(errs.InvalidSignature, "Kyber prekey signature does not verify")
	}
	return nil
}

// Bundle encoding (protobuf, in field order): 1 registration ID, 2 device
// ID, 3 one-time prekey ID, 4 one-time prekey (33; with 3, or both absent),
// 5 signed prekey ID, 6 signed prekey (33), 7 its signature (64),
// 8 identity key (33), 9 Kyber prekey ID, 10 Kyber prekey (1569),
// 11 its signature (64).

// MarshalBinary encodes the bundle.
func (b *Bundle) MarshalBinary() ([]byte, error) {
	if b.KyberPreKey == nil {
		return nil, errs.New(errs.InvalidKey, "bundle has no Kyber prekey")
	}
	out := make([]byte, 0, 1900)
	out = pb.AppendUint64(out, 1, uint64(b.RegistrationID))
	out = pb.AppendUint64(out, 2, uint64(b.DeviceID))
	if b.PreKey != nil {
		out = pb.AppendUint64(out, 3, uint64(b.PreKeyID))
		out = pb.AppendBytes(out, 4, b.PreKey.Bytes())
	}
	out = pb.AppendUint64(out, 5, uint64(b.SignedPreKeyID))
	out = pb.AppendBytes(out, 6, b.SignedPreKey.Bytes())
	out = pb.AppendBytes(out, 7, b.SignedPreKeySignature)
	out = pb.AppendBytes(out, 8, b.IdentityKey.Bytes())
	out = pb.AppendUint64(out, 9, uint64(b.KyberPreKeyID))
	out = pb.AppendBytes(out, 10, b.KyberPreKey.Bytes())
	out = pb.AppendBytes(out, 11, b.KyberPreKeySignature)
	return out, nil
}

// ParseBundle decodes a bundle, checking every key's type and length and
// both signatures' lengths. It does not verify the signatures; Verify does
// (and session setup always calls it).
func ParseBundle(data []byte) (*Bundle, error) {
	var b Bundle
	var preKey, spk, ik, kyber []byte
	r := pb.NewReader(data)
	for {
		num, ok := r.Next()
		if !ok {
			break
		}
		switch num {
		case 1:
			b.RegistrationID = r.Uint32()
		case 2:
			b.DeviceID = r.Uint32()
		case 3:
			b.PreKeyID = r.Uint32()
		case 4:
			preKey = r.Bytes()
		case 5:
			b.SignedPreKeyID = r.Uint32()
		case 6:
			spk = r.Bytes()
		case 7:
			b.SignedPreKeySignature = append([]byte(nil), r.Bytes()...)
		case 8:
			ik = r.Bytes()
		case 9:
			b.KyberPreKeyID = r.Uint32()
		case 10:
			kyber = r.Bytes()
		case 11:
			b.KyberPreKeySignature = append([]byte(nil), r.Bytes()...)
		default:
			r.Skip(num)
		}
	}
	if r.Err() != nil {
		return nil, errs.Newf(errs.InvalidKey, "bundle: %v", r.Err())
	}
	for _, n := range []protowire.Number{1, 2, 5, 6, 7, 8, 9, 10, 11} {
		if !r.Seen(n) {
			return nil, errs.Newf(errs.InvalidKey, "bundle lacks field %d", n)
		}
	}
	if r.Seen(3) != r.Seen(4) {
		return nil, errs.New(errs.InvalidKey, "bundle has a one-time prekey ID without the key or the other way round")
	}
	if len(b.SignedPreKeySignature) != curve.SignatureSize || len(b.KyberPreKeySignature) != curve.SignatureSize {
		return nil, errs.New(errs.InvalidKey, "bundle signature is not 64 bytes")
	}
	var err error
	if r.Seen(4) {
		k, err := curve.ParsePublicKey(preKey)
		if err != nil {
			return nil, err
		}
		b.PreKey = &k
	}
	if b.SignedPreKey, err = curve.ParsePublicKey(spk); err != nil {
		return nil, err
	}
	if b.IdentityKey, err = curve.ParsePublicKey(ik); err != nil {
		return nil, err
	}
	if b.KyberPreKey, err = kem.ParsePublicKey(kyber); err != nil {
		return nil, err
	}
	return &b, nil
}
