package keytrans

import (
	"encoding/binary"
	"errors"

	"github.com/skymsg/sky/keytrans/vrf"
	"github.com/skymsg/sky/protocol/curve"
)

// CertificateSize is the encoded size of a DirectoryCertificate.
const CertificateSize = 4 + curve.PublicKeySize + vrf.PublicKeySize + curve.SignatureSize

var certContext = []byte("Sky key directory certificate v1\x00")

// ErrUntrustedDirectory says that a directory certificate is not signed by
// a trusted root, or a head not by the certified key.
var ErrUntrustedDirectory = errors.New("keytrans: not signed by the operator's trust root")

// A DirectoryCertificate is the operator's offline trust root vouching for
// the directory's two keys: the XEdDSA key that signs heads and the VRF key
// that places entries. It is signed as sealed sender's server certificates
// are (XEdDSA by the same trust root), with its own context string so that
// neither can pass for the other.
type DirectoryCertificate struct {
	KeyID      uint32
	SigningKey curve.PublicKey
	VRFKey     vrf.PublicKey
	Signature  [curve.SignatureSize]byte
}

func (c *DirectoryCertificate) signed() []byte {
	b := append([]byte(nil), certContext...)
	b = binary.BigEndian.AppendUint32(b, c.KeyID)
	b = c.SigningKey.AppendBytes(b)
	return append(b, c.VRFKey[:]...)
}

// NewDirectoryCertificate signs the directory's keys with the trust root.
func NewDirectoryCertificate(root curve.PrivateKey, keyID uint32, signing curve.PublicKey, vrfKey vrf.PublicKey) *DirectoryCertificate {
	c := &DirectoryCertificate{KeyID: keyID, SigningKey: signing, VRFKey: vrfKey}
	c.Signature = root.Sign(c.signed())
	return c
}

// Verify checks that one of roots signed the certificate.
func (c *DirectoryCertificate) Verify(roots ...curve.PublicKey) error {
	for _, r := range roots {
		if r.Verify(c.Signature[:], c.signed()) {
			return nil
		}
	}
	return ErrUntrustedDirectory
}

// Encode returns the certificate's CertificateSize bytes.
func (c *DirectoryCertificate) Encode() []byte {
	b := binary.BigEndian.AppendUint32(nil, c.KeyID)
	b = c.SigningKey.AppendBytes(b)
	b = append(b, c.VRFKey[:]...)
	return append(b, c.Signature[:]...)
}

// DecodeCertificate reads what Encode wrote.
func DecodeCertificate(b []byte) (*DirectoryCertificate, error) {
	r := &reader{b: b, what: "directory certificate"}
	c := &DirectoryCertificate{KeyID: r.u32()}
	key := r.bytes(curve.PublicKeySize)
	r.fixed(c.VRFKey[:])
	r.fixed(c.Signature[:])
	if err := r.done(); err != nil {
		return nil, err
	}
	var err error
	if c.SigningKey, err = curve.ParsePublicKey(key); err != nil {
		return nil, errors.Join(ErrMalformed, err)
	}
	return c, nil
}
