// Package prekey holds the prekeys a device publishes so that others can
// start sessions with it while it is offline, and the bundles in which they
// are handed out:
//
//   - one-time EC prekeys (Curve25519), used at most once;
//   - the signed EC prekey, signed by the identity key;
//   - signed Kyber1024 prekeys, one-time or "last resort" (reusable).
//
// Signatures are XEdDSA by the identity key over the type-tagged serialized
// key (0x05 || key for EC prekeys, 0x08 || key for Kyber prekeys), as libsignal
// makes them, so a signature over one kind of key can never pass as one over
// the other. Records serialize to Sky's own protobuf layouts (the Kyber
// secret key is kept as its 64-byte seed).
package prekey

import (
	"fmt"
	"time"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/pb"
	"github.com/skymsg/sky/protocol/internal/redact"
	"github.com/skymsg/sky/protocol/kem"
)

// PreKey is a one-time EC prekey.
type PreKey struct {
	ID      uint32
	KeyPair curve.KeyPair
}

// SignedPreKey is the signed EC prekey.
type SignedPreKey struct {
	ID        uint32
	KeyPair   curve.KeyPair
	Signature [curve.SignatureSize]byte
	Timestamp uint64 // creation time, milliseconds since the Unix epoch
}

// KyberPreKey is a signed Kyber1024 prekey.
type KyberPreKey struct {
	ID         uint32
	KeyPair    kem.KeyPair
	Signature  [curve.SignatureSize]byte
	Timestamp  uint64 // creation time, milliseconds since the Unix epoch
	LastResort bool   // reusable until replaced, instead of one-time
}

// NewPreKey generates a one-time prekey.
func NewPreKey(id uint32) PreKey { return PreKey{ID: id, KeyPair: curve.GenerateKeyPair()} }

// NewSignedPreKey generates a signed prekey, signed by ik, created at now.
func NewSignedPreKey(id uint32, ik identity.KeyPair, now time.Time) SignedPreKey {
	kp := curve.GenerateKeyPair()
	return SignedPreKey{ID: id, KeyPair: kp, Signature: ik.Private.Sign(kp.Public.Bytes()), Timestamp: millis(now)}
}

// NewKyberPreKey generates a Kyber prekey, signed by ik, created at now.
func NewKyberPreKey(id uint32, ik identity.KeyPair, now time.Time, lastResort bool) KyberPreKey {
	kp := kem.GenerateKeyPair()
	return KyberPreKey{ID: id, KeyPair: kp, Signature: ik.Private.Sign(kp.Public.Bytes()), Timestamp: millis(now), LastResort: lastResort}
}

func millis(t time.Time) uint64 {
	if t.UnixMilli() < 0 {
		return 0
	}
	return uint64(t.UnixMilli())
}

// Record encodings (protobuf, in field order). PreKey: 1 ID, 2 public key
// (33), 3 private key (32). SignedPreKey adds 4 signature (64) and
// 5 timestamp. KyberPreKey: 1 ID, 2 public key (1569), 3 secret key
// (0x08 || 64-byte seed), 4 signature, 5 timestamp, 6 last resort.

// MarshalBinary encodes the record. The result is secret.
func (k PreKey) MarshalBinary() ([]byte, error) {
	b := pb.AppendUint64(nil, 1, uint64(k.ID))
	b = pb.AppendBytes(b, 2, k.KeyPair.Public.Bytes())
	return pb.AppendBytes(b, 3, k.KeyPair.Private.Bytes()), nil
}

// MarshalBinary encodes the record. The result is secret.
func (k SignedPreKey) MarshalBinary() ([]byte, error) {
	b, _ := PreKey{ID: k.ID, KeyPair: k.KeyPair}.MarshalBinary()
	b = pb.AppendBytes(b, 4, k.Signature[:])
	return pb.AppendUint64(b, 5, k.Timestamp), nil
}

// MarshalBinary encodes the record. The result is secret.
func (k KyberPreKey) MarshalBinary() ([]byte, error) {
	b := pb.AppendUint64(nil, 1, uint64(k.ID))
	b = pb.AppendBytes(b, 2, k.KeyPair.Public.Bytes())
	b = pb.AppendBytes(b, 3, k.KeyPair.Secret.Bytes())
	b = pb.AppendBytes(b, 4, k.Signature[:])
	b = pb.AppendUint64(b, 5, k.Timestamp)
	return pb.AppendBool(b, 6, k.LastResort), nil
}

// ecRecord decodes the fields PreKey and SignedPreKey share.
type ecRecord struct {
	id        uint32
	pub, priv []byte
	sig       []byte
	ts        uint64
}

func parseEC(b []byte) (ecRecord, error) {
	var rec ecRecord
	r := pb.NewReader(b)
	for {
		num, ok := r.Next()
		if !ok {
			break
		}
		switch num {
		case 1:
			rec.id = r.Uint32()
		case 2:
			rec.pub = r.Bytes()
		case 3:
			rec.priv = r.Bytes()
		case 4:
			rec.sig = r.Bytes()
		case 5:
			rec.ts = r.Uint64()
		default:
			r.Skip(num)
		}
	}
	if r.Err() != nil || !r.Seen(1) || rec.pub == nil || rec.priv == nil {
		return rec, errs.New(errs.InvalidState, "prekey record malformed or incomplete")
	}
	return rec, nil
}

// keyPair decodes a record's key pair. Like libsignal it does not derive the
// public key again (a scalar multiplication on every session start); records
// are written by NewPreKey and NewSignedPreKey, which pair them correctly.
func keyPair(pub, priv []byte) (curve.KeyPair, error) {
	p, err := curve.ParsePrivateKey(priv)
	if err != nil {
		return curve.KeyPair{}, errs.New(errs.InvalidState, "prekey record: bad private key")
	}
	k, err := curve.ParsePublicKey(pub)
	if err != nil {
		return curve.KeyPair{}, errs.New(errs.InvalidState, "prekey record: bad public key")
	}
	return curve.KeyPair{Public: k, Private: p}, nil
}

// ParsePreKey decodes a PreKey record.
func ParsePreKey(b []byte) (PreKey, error) {
	rec, err := parseEC(b)
	if err != nil {
		return PreKey{}, err
	}
	kp, err := keyPair(rec.pub, rec.priv)
	return PreKey{ID: rec.id, KeyPair: kp}, err
}

// ParseSignedPreKey decodes a SignedPreKey record.
func ParseSignedPreKey(b []byte) (SignedPreKey, error) {
	rec, err := parseEC(b)
	if err != nil {
		return SignedPreKey{}, err
	}
	if len(rec.sig) != curve.SignatureSize {
		return SignedPreKey{}, errs.New(errs.InvalidState, "signed prekey record: signature missing or of the wrong size")
	}
	kp, err := keyPair(rec.pub, rec.priv)
	if err != nil {
		return SignedPreKey{}, err
	}
	k := SignedPreKey{ID: rec.id, KeyPair: kp, Timestamp: rec.ts}
	copy(k.Signature[:], rec.sig)
	return k, nil
}

// ParseKyberPreKey decodes a KyberPreKey record.
func ParseKyberPreKey(b []byte) (KyberPreKey, error) {
	var k KyberPreKey
	var pub, sec, sig []byte
	r := pb.NewReader(b)
	for {
		num, ok := r.Next()
		if !ok {
			break
		}
		switch num {
		case 1:
			k.ID = r.Uint32()
		case 2:
			pub = r.Bytes()
		case 3:
			sec = r.Bytes()
		case 4:
			sig = r.Bytes()
		case 5:
			k.Timestamp = r.Uint64()
		case 6:
			k.LastResort = r.Bool()
		default:
			r.Skip(num)
		}
	}
	if r.Err() != nil || !r.Seen(1) || len(sig) != curve.SignatureSize {
		return KyberPreKey{}, errs.New(errs.InvalidState, "Kyber prekey record malformed or incomplete")
	}
	s, err := kem.ParseSecretKey(sec)
	if err != nil {
		return KyberPreKey{}, errs.New(errs.InvalidState, "Kyber prekey record: bad secret key")
	}
	p := s.PublicKey()
	if string(p.Bytes()) != string(pub) {
		return KyberPreKey{}, errs.New(errs.InvalidState, "Kyber prekey record: public key does not match the secret key")
	}
	k.KeyPair = kem.KeyPair{Public: p, Secret: s}
	copy(k.Signature[:], sig)
	return k, nil
}

// KyberPreKeyLastResort reads only the last-resort flag of an encoded
// KyberPreKey record, without decoding (and expanding) its secret key.
func KyberPreKeyLastResort(b []byte) (bool, error) {
	r := pb.NewReader(b)
	last := false
	for {
		num, ok := r.Next()
		if !ok {
			break
		}
		if num == 6 {
			last = r.Bool()
		} else {
			r.Skip(num)
		}
	}
	if r.Err() != nil {
		return false, errs.New(errs.InvalidState, "Kyber prekey record malformed")
	}
	return last, nil
}

// Format redacts the private key under every fmt verb.
func (k PreKey) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{ID:%d Public:%s Private:%s}", k.ID, k.KeyPair.Public, redact.String("curve.PrivateKey"))
}

// Format redacts the private key under every fmt verb.
func (k SignedPreKey) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{ID:%d Public:%s Private:%s}", k.ID, k.KeyPair.Public, redact.String("curve.PrivateKey"))
}

// Format redacts the secret key under every fmt verb.
func (k KyberPreKey) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{ID:%d LastResort:%v Secret:%s}", k.ID, k.LastResort, redact.String("kem.SecretKey"))
}
