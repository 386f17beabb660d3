package sealed

import (
	"fmt"
	"time"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/redact"
)

// TrustRoot is an operator's trust-root key pair. Its private half stays
// offline and signs server certificates; its public half is pinned by every
// client. The private key redacts itself under every fmt verb.
type TrustRoot struct {
	public  curve.PublicKey
	private curve.PrivateKey
}

// GenerateTrustRoot returns a new random trust root (crypto/rand).
func GenerateTrustRoot() *TrustRoot {
	kp := curve.GenerateKeyPair()
	return &TrustRoot{public: kp.Public, private: kp.Private}
}

// ParseTrustRoot returns the trust root whose private key is the 32 bytes b
// (the form MarshalBinary writes).
func ParseTrustRoot(b []byte) (*TrustRoot, error) {
	p, err := curve.ParsePrivateKey(b)
	if err != nil {
		return nil, err
	}
	return &TrustRoot{public: p.PublicKey(), private: p}, nil
}

// Public returns the public key clients pin.
func (t *TrustRoot) Public() curve.PublicKey { return t.public }

// MarshalBinary returns the 32-byte private key. The result is secret.
func (t *TrustRoot) MarshalBinary() ([]byte, error) { return t.private.Bytes(), nil }

// Certify signs a server certificate for the server key serverKey with ID
// keyID. The revoked ID RevokedKeyID is refused.
func (t *TrustRoot) Certify(keyID uint32, serverKey curve.PublicKey) (*ServerCertificate, error) {
	if keyID == RevokedKeyID {
		return nil, errs.Newf(errs.InvalidKey, "server key ID %#x is reserved as revoked; choose another", keyID)
	}
	if serverKey.IsZero() {
		return nil, errs.New(errs.InvalidKey, "no server key to certify")
	}
	return newServerCertificate(keyID, serverKey, t.private), nil
}

// Format prints the public key and redacts the private key, whatever the verb.
func (t TrustRoot) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{Public:%s Private:%s}", t.public, redact.String("sealed.TrustRoot"))
}

// String redacts the private key.
func (t TrustRoot) String() string { return fmt.Sprint(t) }

// GoString redacts the private key.
func (t TrustRoot) GoString() string { return fmt.Sprint(t) }

// Issuer mints short-lived sender certificates on a server: it holds the
// server's private key and the certificate the trust root gave that key.
// It is safe for concurrent use.
type Issuer struct {
	cert *ServerCertificate
	key  curve.PrivateKey
}

// NewIssuer returns an issuer for a server key and its certificate; the key
// must be the certificate's.
func NewIssuer(cert *ServerCertificate, key curve.PrivateKey) (*Issuer, error) {
	if cert == nil || key.PublicKey() != cert.key {
		return nil, errs.New(errs.InvalidKey, "the server key is not the key of the server certificate")
	}
	return &Issuer{cert: cert, key: key}, nil
}

// ServerCertificate returns the certificate sender certificates embed.
func (is *Issuer) ServerCertificate() *ServerCertificate { return is.cert }

// Issue signs a sender certificate for the device s, valid up to and
// including expires (millisecond precision).
func (is *Issuer) Issue(s Sender, expires time.Time) (*SenderCertificate, error) {
	return NewSenderCertificate(s, expires, is.cert, is.key)
}

// Format redacts the server key, whatever the verb.
func (is Issuer) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{ServerKeyID:%d Key:%s}", is.cert.keyID, redact.String("sealed.Issuer"))
}

// String redacts the server key.
func (is Issuer) String() string { return fmt.Sprint(is) }

// GoString redacts the server key.
func (is Issuer) GoString() string { return fmt.Sprint(is) }
