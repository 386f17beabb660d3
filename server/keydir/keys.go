package keydir

import (
	"context"
	"errors"
	"fmt"

	"github.com/skymsg/sky/keytrans"
	"github.com/skymsg/sky/keytrans/vrf"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/server/store"
)

// metaName is where the directory's keys live (store.Sealed's Meta): the
// certificate, then the signing key, then the VRF key.
const metaName = "keydir"

// ErrNotCertified says that the operator has not certified a directory
// key yet, so the directory does not run.
var ErrNotCertified = errors.New("this server has no key directory yet: certify it with the trust root " +
	"(skyd admin trust-root certify --key FILE), which certifies the directory key too")

// Keys are the directory's keys: the certificate from the trust root, the
// key that signs heads, and the VRF key that places entries.
type Keys struct {
	Cert    *keytrans.DirectoryCertificate
	Signing curve.PrivateKey
	VRF     *vrf.PrivateKey
}

// Certify makes a new head-signing key, certifies it with the trust root's
// private key and stores it. The VRF key is made once and kept through
// every later certification, since every entry's place depends on it.
// keyID 0 takes the stored key's ID plus one (1 on the first).
func Certify(ctx context.Context, st Store, root curve.PrivateKey, keyID uint32) (*keytrans.DirectoryCertificate, error) {
	old, err := LoadKeys(ctx, st)
	if err != nil && !errors.Is(err, ErrNotCertified) {
		return nil, err
	}
	vk := vrf.GenerateKey()
	if old != nil {
		vk = old.VRF
		if keyID == 0 {
			keyID = old.Cert.KeyID + 1
		}
	}
	if keyID == 0 {
		keyID = 1
	}
	signing := curve.GenerateKeyPair()
	cert := keytrans.NewDirectoryCertificate(root, keyID, signing.Public, vk.Public())
	b := append(cert.Encode(), signing.Private.Bytes()...)
	b = append(b, vk.Bytes()...)
	if err := st.SetMeta(ctx, metaName, b); err != nil {
		return nil, err
	}
	return cert, nil
}

// CertifyWithRoot is Certify with the operator's trust root as
// protocol/sealed holds it (the one that certifies the sealed-sender
// server key).
func CertifyWithRoot(ctx context.Context, st Store, root *sealed.TrustRoot, keyID uint32) (*keytrans.DirectoryCertificate, error) {
	b, err := root.MarshalBinary()
	if err != nil {
		return nil, err
	}
	priv, err := curve.ParsePrivateKey(b)
	if err != nil {
		return nil, err
	}
	return Certify(ctx, st, priv, keyID)
}

// LoadKeys reads the stored keys; ErrNotCertified if there are none.
func LoadKeys(ctx context.Context, st Store) (*Keys, error) {
	b, err := st.Meta(ctx, metaName)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotCertified
	}
	if err != nil {
		return nil, err
	}
	if len(b) != keytrans.CertificateSize+32+vrf.PrivateKeySize {
		return nil, fmt.Errorf("keydir: the stored directory keys are %d bytes; certify the directory again", len(b))
	}
	cert, err := keytrans.DecodeCertificate(b[:keytrans.CertificateSize])
	if err != nil {
		return nil, fmt.Errorf("keydir: the stored directory certificate: %w", err)
	}
	signing, err := curve.ParsePrivateKey(b[keytrans.CertificateSize : keytrans.CertificateSize+32])
	if err != nil {
		return nil, fmt.Errorf("keydir: the stored signing key: %w", err)
	}
	vk, err := vrf.NewPrivateKey(b[keytrans.CertificateSize+32:])
	if err != nil {
		return nil, fmt.Errorf("keydir: the stored VRF key: %w", err)
	}
	if signing.PublicKey() != cert.SigningKey || vk.Public() != cert.VRFKey {
		return nil, errors.New("keydir: the stored keys are not the certificate's; certify the directory again")
	}
	return &Keys{Cert: cert, Signing: signing, VRF: vk}, nil
}
