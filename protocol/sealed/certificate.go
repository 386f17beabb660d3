package sealed

import (
	"crypto/subtle"
	"encoding/hex"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/pb"
)

// RevokedKeyID is a server key ID that validation always refuses. libsignal
// reserves it to test revocation; no server certificate may use it.
const RevokedKeyID = 0xDEADC357

// MaxDeviceID is the largest device ID (libsignal's DeviceId is 1..127).
const MaxDeviceID = 127

// A ServerCertificate binds a server key (and its ID) to the trust root that
// signed it. Encoded as libsignal's ServerCertificate protobuf:
// {1: certificate, 2: signature}, certificate = {1: id, 2: key (33 bytes)},
// signature = XEdDSA(trust root, certificate).
type ServerCertificate struct {
	keyID       uint32
	key         curve.PublicKey
	certificate []byte // the signed bytes, exactly as received
	signature   []byte
	raw         []byte
}

// KeyID returns the ID of the server key.
func (c *ServerCertificate) KeyID() uint32 { return c.keyID }

// Key returns the server's public key, which signs sender certificates.
func (c *ServerCertificate) Key() curve.PublicKey { return c.key }

// Bytes returns the encoded certificate (the bytes it was parsed from).
func (c *ServerCertificate) Bytes() []byte { return c.raw }

func newServerCertificate(keyID uint32, key curve.PublicKey, root curve.PrivateKey) *ServerCertificate {
	cert := pb.AppendUint64(nil, 1, uint64(keyID))
	cert = pb.AppendBytes(cert, 2, key.Bytes())
	sig := root.Sign(cert)
	return &ServerCertificate{
		keyID:       keyID,
		key:         key,
		certificate: cert,
		signature:   sig[:],
		raw:         signedEnvelope(cert, sig[:]),
	}
}

// signedEnvelope encodes the outer {1: certificate, 2: signature} message
// shared by both certificate types.
func signedEnvelope(cert, sig []byte) []byte {
	b := make([]byte, 0, len(cert)+len(sig)+8)
	b = pb.AppendBytes(b, 1, cert)
	return pb.AppendBytes(b, 2, sig)
}

// parseSignedEnvelope splits the outer message; both fields are required.
func parseSignedEnvelope(b []byte, what string) (cert, sig []byte, err error) {
	r := pb.NewReader(b)
	for {
		num, ok := r.Next()
		if !ok {
			break
		}
		switch num {
		case 1:
			cert = r.Bytes()
		case 2:
			sig = r.Bytes()
		default:
			r.Skip(num)
		}
	}
	if r.Err() != nil {
		return nil, nil, certErrorf("%s: %v", what, r.Err())
	}
	if cert == nil || sig == nil {
		return nil, nil, certErrorf("%s: certificate or signature missing", what)
	}
	return cert, sig, nil
}

// ParseServerCertificate decodes a server certificate. It does not check the
// signature; see Validate. Errors wrap ErrInvalidCertificate.
func ParseServerCertificate(b []byte) (*ServerCertificate, error) {
	cert, sig, err := parseSignedEnvelope(b, "server certificate")
	if err != nil {
		return nil, err
	}
	var (
		id     uint32
		hasID  bool
		keyRaw []byte
	)
	r := pb.NewReader(cert)
	for {
		num, ok := r.Next()
		if !ok {
			break
		}
		switch num {
		case 1:
			id, hasID = r.Uint32(), true
		case 2:
			keyRaw = r.Bytes()
		default:
			r.Skip(num)
		}
	}
	if r.Err() != nil {
		return nil, certErrorf("server certificate: %v", r.Err())
	}
	if !hasID || keyRaw == nil {
		return nil, certErrorf("server certificate: key ID or key missing")
	}
	key, err := curve.ParsePublicKey(keyRaw)
	if err != nil {
		return nil, certErrorf("server certificate key: %s", errs.Detail(err))
	}
	return &ServerCertificate{keyID: id, key: key, certificate: cert, signature: sig, raw: clone(b)}, nil
}

// signedBy reports whether c is unrevoked and signed by root. It does the
// same work whatever the answer, so that checking several roots does not
// reveal which one matched.
func (c *ServerCertificate) signedBy(root curve.PublicKey) bool {
	valid := root.Verify(c.signature, c.certificate)
	return valid && c.keyID != RevokedKeyID
}

// Validate checks that c is signed by one of roots and not revoked. Errors
// wrap ErrInvalidCertificate.
func (c *ServerCertificate) Validate(roots ...curve.PublicKey) error {
	if len(roots) == 0 {
		return certErrorf("no trust root to check the server certificate against")
	}
	if c.keyID == RevokedKeyID {
		return certErrorf("server key ID %#x is revoked", c.keyID)
	}
	matched := 0
	for _, root := range roots {
		matched |= subtle.ConstantTimeByteEq(boolByte(c.signedBy(root)), 1)
	}
	if matched != 1 {
		return certErrorf("server certificate %d is not signed by a trusted root", c.keyID)
	}
	return nil
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// Sender names the device a sender certificate vouches for.
type Sender struct {
	// UUID is the account's service ID string (an ACI UUID).
	UUID string
	// E164 is a phone number; Sky leaves it empty, and an empty E164 is not
	// encoded.
	E164 string
	// DeviceID is the device, 1..127.
	DeviceID uint32
	// IdentityKey is the device's identity key.
	IdentityKey curve.PublicKey
}

// A SenderCertificate is a server's statement that an identity key belongs to
// a device of an account until an expiry time. Encoded as libsignal's
// SenderCertificate protobuf: {1: certificate, 2: signature}, certificate =
// {1: senderE164 (optional), 2: senderDevice, 3: expires (fixed64,
// milliseconds since 1970), 4: identityKey, 5: signer (a ServerCertificate) or
// 8: signer ID, 6: uuidString or 7: uuidBytes}, signature = XEdDSA(server
// key, certificate).
type SenderCertificate struct {
	sender      Sender
	hasE164     bool
	expires     uint64
	signer      *ServerCertificate // nil when the certificate names its signer by ID
	signerID    uint32
	certificate []byte
	signature   []byte
	raw         []byte
}

// UUID returns the sender's account (service ID string).
func (c *SenderCertificate) UUID() string { return c.sender.UUID }

// E164 returns the sender's phone number and whether the certificate has one.
func (c *SenderCertificate) E164() (string, bool) { return c.sender.E164, c.hasE164 }

// DeviceID returns the sender's device ID.
func (c *SenderCertificate) DeviceID() uint32 { return c.sender.DeviceID }

// IdentityKey returns the sender's identity key.
func (c *SenderCertificate) IdentityKey() curve.PublicKey { return c.sender.IdentityKey }

// ExpiresMillis returns the expiry in milliseconds since 1970; the
// certificate is valid up to and including that millisecond.
func (c *SenderCertificate) ExpiresMillis() uint64 { return c.expires }

// Expires returns the expiry as a time (millisecond precision).
func (c *SenderCertificate) Expires() time.Time {
	return time.UnixMilli(int64(min(c.expires, 1<<63-1)))
}

// Signer returns the embedded server certificate, or nil if the certificate
// refers to its signer by ID (see SignerID), which Sky cannot resolve.
func (c *SenderCertificate) Signer() *ServerCertificate { return c.signer }

// SignerID returns the ID a certificate without an embedded signer refers to.
func (c *SenderCertificate) SignerID() uint32 { return c.signerID }

// Bytes returns the encoded certificate (the bytes it was parsed from).
func (c *SenderCertificate) Bytes() []byte { return c.raw }

// NewSenderCertificate makes a certificate for s, valid through expires,
// signed with the server key signerKey whose certificate is signer. Issuer
// is the usual way to call it.
func NewSenderCertificate(s Sender, expires time.Time, signer *ServerCertificate, signerKey curve.PrivateKey) (*SenderCertificate, error) {
	switch {
	case s.UUID == "" || !utf8.ValidString(s.UUID) || !utf8.ValidString(s.E164):
		return nil, errs.New(errs.InvalidKey, "sender certificate: the sender UUID must be non-empty UTF-8")
	case s.DeviceID < 1 || s.DeviceID > MaxDeviceID:
		return nil, errs.Newf(errs.InvalidKey, "sender certificate: device ID %d outside 1..127", s.DeviceID)
	case s.IdentityKey.IsZero():
		return nil, errs.New(errs.InvalidKey, "sender certificate: no identity key")
	case expires.UnixMilli() < 0:
		return nil, errs.New(errs.InvalidKey, "sender certificate: expiry before 1970")
	case signerKey.PublicKey() != signer.key:
		return nil, errs.New(errs.InvalidKey, "sender certificate: the signing key is not the server certificate's key")
	}
	c := &SenderCertificate{sender: s, hasE164: s.E164 != "", expires: uint64(expires.UnixMilli()), signer: signer}
	// Fields in ascending number order, as libsignal writes them.
	var cert []byte
	if c.hasE164 {
		cert = pb.AppendBytes(cert, 1, []byte(s.E164))
	}
	cert = pb.AppendUint64(cert, 2, uint64(s.DeviceID))
	cert = protowire.AppendTag(cert, 3, protowire.Fixed64Type)
	cert = protowire.AppendFixed64(cert, c.expires)
	cert = pb.AppendBytes(cert, 4, s.IdentityKey.Bytes())
	cert = pb.AppendBytes(cert, 5, signer.raw)
	cert = pb.AppendBytes(cert, 6, []byte(s.UUID))
	sig := signerKey.Sign(cert)
	c.certificate, c.signature = cert, sig[:]
	c.raw = signedEnvelope(cert, sig[:])
	return c, nil
}

// ParseSenderCertificate decodes a sender certificate as libsignal does
// (last occurrence of a field wins; unknown fields are skipped; strings must
// be UTF-8; a 16-byte uuidBytes becomes the lower-case hyphenated string). It
// does not check signatures or expiry; see Validate. Errors wrap
// ErrInvalidCertificate.
func ParseSenderCertificate(b []byte) (*SenderCertificate, error) {
	cert, sig, err := parseSignedEnvelope(b, "sender certificate")
	if err != nil {
		return nil, err
	}
	c := &SenderCertificate{certificate: cert, signature: sig, raw: clone(b)}
	var f senderFields
	if err := f.parse(cert); err != nil {
		return nil, err
	}
	switch {
	case !f.hasDevice || f.device < 1 || f.device > MaxDeviceID:
		return nil, certErrorf("sender certificate: device ID missing or outside 1..127")
	case !f.hasExpires:
		return nil, certErrorf("sender certificate: expiry missing")
	case f.signer == nil && !f.hasSignerID:
		return nil, certErrorf("sender certificate: signer missing")
	case f.uuid == nil:
		return nil, certErrorf("sender certificate: sender UUID missing")
	case f.identity == nil:
		return nil, certErrorf("sender certificate: identity key missing")
	}
	c.sender.DeviceID = uint32(f.device)
	c.expires = f.expires
	c.sender.UUID = *f.uuid
	if f.e164 != nil {
		c.sender.E164, c.hasE164 = *f.e164, true
	}
	if c.sender.IdentityKey, err = curve.ParsePublicKey(f.identity); err != nil {
		return nil, certErrorf("sender certificate identity key: %s", errs.Detail(err))
	}
	if f.signer != nil {
		if c.signer, err = ParseServerCertificate(f.signer); err != nil {
			return nil, err
		}
	} else {
		c.signerID = f.signerID
	}
	return c, nil
}

// senderFields are the raw fields of a sender certificate's inner message.
type senderFields struct {
	e164, uuid       *string
	device           uint64
	hasDevice        bool
	expires          uint64
	hasExpires       bool
	identity, signer []byte
	signerID         uint32
	hasSignerID      bool
}

// senderWireTypes are the wire types of the inner message's fields 1..8.
var senderWireTypes = [...]protowire.Type{1: protowire.BytesType, 2: protowire.VarintType, 3: protowire.Fixed64Type,
	4: protowire.BytesType, 5: protowire.BytesType, 6: protowire.BytesType, 7: protowire.BytesType, 8: protowire.VarintType}

// parse walks the inner message with protowire (pb.Reader has no fixed64).
func (f *senderFields) parse(b []byte) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return certErrorf("sender certificate: bad protobuf tag")
		}
		b = b[n:]
		if num < 1 || num >= protowire.Number(len(senderWireTypes)) {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return certErrorf("sender certificate: bad protobuf field")
			}
			b = b[n:]
			continue
		}
		if typ != senderWireTypes[num] {
			return certErrorf("sender certificate: field %d has wire type %d", num, typ)
		}
		var v []byte
		var x uint64
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		default:
			x, n = protowire.ConsumeFixed64(b)
		}
		if n < 0 {
			return certErrorf("sender certificate: truncated field %d", num)
		}
		b = b[n:]
		if err := f.set(num, v, x); err != nil {
			return err
		}
	}
	return nil
}

func (f *senderFields) set(num protowire.Number, v []byte, x uint64) error {
	switch num {
	case 1, 6:
		if !utf8.Valid(v) {
			return certErrorf("sender certificate: field %d is not UTF-8", num)
		}
		s := string(v)
		if num == 1 {
			f.e164 = &s
		} else {
			f.uuid = &s
		}
	case 7:
		if len(v) != 16 {
			return certErrorf("sender certificate: UUID of %d bytes, want 16", len(v))
		}
		s := formatUUID(v)
		f.uuid = &s
	case 2:
		f.device, f.hasDevice = uint64(uint32(x)), true // a uint32 field: protobuf keeps the low 32 bits
	case 3:
		f.expires, f.hasExpires = x, true
	case 4:
		f.identity = v
	case 5:
		f.signer, f.hasSignerID = v, false
	case 8:
		f.signerID, f.hasSignerID, f.signer = uint32(x), true, nil
	}
	return nil
}

func formatUUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Validate checks c at the time now against the trust roots: the embedded
// server certificate is not revoked and is signed by one of roots (every root
// is tried, so timing does not tell which matched), c is signed by that
// server's key, and now is not after c's expiry (a certificate is valid at
// exactly its expiry millisecond). Errors wrap ErrInvalidCertificate.
func (c *SenderCertificate) Validate(now time.Time, roots ...curve.PublicKey) error {
	if c.signer == nil {
		return certErrorf("the certificate refers to server certificate %d, which is not known", c.signerID)
	}
	if err := c.signer.Validate(roots...); err != nil {
		return err
	}
	if !c.signer.key.Verify(c.signature, c.certificate) {
		return certErrorf("the sender certificate is not signed by server key %d", c.signer.keyID)
	}
	if ms := now.UnixMilli(); ms > 0 && uint64(ms) > c.expires {
		return certErrorf("the sender certificate expired at %d ms, validated at %d ms", c.expires, ms)
	}
	return nil
}

func certErrorf(format string, args ...any) error {
	return errs.Newf(ErrInvalidCertificate, format, args...)
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
