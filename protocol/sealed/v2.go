package sealed

import (
	"crypto/rand"
	"crypto/subtle"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/gcmsiv"
	"github.com/skymsg/sky/protocol/internal/kdf"
)

// Sealed sender v2 (multi-recipient), byte-compatible with libsignal 0.103.
// The content is encrypted once; each recipient gets a 48-byte key wrap.
//
//	M random (32 bytes); r = HKDF(M, "…: r (2023-08)"); K = HKDF(M, "…: K")
//	E = the key pair of the private key r
//	per recipient R:  C  = HKDF(DH(E, R) || E || R, "…: DH") XOR M
//	                  AT = HKDF(DH(S, R) || E || C || S || R, "…: DH-sender")[:16]
//	shared ciphertext = AES-256-GCM-SIV(K, nonce 0, no associated data, content)
//
// (HKDF-SHA256 without salt; public keys in their 33-byte form.) A recipient
// recovers M from C, checks that M derives E (so C was made for E), opens
// the content, and checks AT with the sender key the certificate inside
// names: only someone holding S's private key could have made AT.
//
// The sender uploads a SentMessage (v2sent.go); the server cuts from it, for
// each recipient, a ReceivedMessage:
//
//	0x22 || C (32) || AT (16) || E (32 bytes, no type byte) || shared ciphertext

// Version bytes of v2 messages.
const (
	V2ReceivedVersion = 0x22 // a ReceivedMessage (and the first SentMessage form, recipients as ACI UUIDs)
	V2SentVersion     = 0x23 // a SentMessage with recipients as fixed-width service IDs
)

// Sizes of v2's parts.
const (
	v2KeySize    = 32 // M, and its encryption C
	v2TagSize    = 16 // AT
	v2PublicSize = 32 // E on the wire: the X25519 u-coordinate alone
	// V2KeyMaterialSize is one recipient's C || AT.
	V2KeyMaterialSize = v2KeySize + v2TagSize
	// V2ReceivedOverhead is a ReceivedMessage's size less its content's:
	// version, C, AT, E and the GCM-SIV tag.
	V2ReceivedOverhead = 1 + V2KeyMaterialSize + v2PublicSize + gcmsiv.TagSize
)

const (
	labelR        = "Sealed Sender v2: r (2023-08)"
	labelK        = "Sealed Sender v2: K"
	labelDH       = "Sealed Sender v2: DH"
	labelDHSender = "Sealed Sender v2: DH-sender"
)

// v2Keys derives the ephemeral key pair and the content key from M.
func v2Keys(m []byte) (curve.KeyPair, []byte) {
	var r [32]byte
	kdf.HKDF(r[:], nil, m, labelR)
	priv, err := curve.ParsePrivateKey(r[:])
	clear(r[:])
	if err != nil {
		panic("sealed: " + err.Error()) // unreachable: 32 bytes
	}
	k := make([]byte, gcmsiv.KeySize)
	kdf.HKDF(k, nil, m, labelK)
	return curve.NewKeyPair(priv), k
}

// v2Wrap computes HKDF(DH || E || R, labelDH) XOR in: C from M for the
// sender (priv = E), M from C for the recipient (priv = R).
func v2Wrap(priv curve.PrivateKey, their, eph, recipient curve.PublicKey, in []byte) ([]byte, error) {
	shared, err := priv.Agree(their)
	if err != nil {
		return nil, err
	}
	ikm := make([]byte, 0, len(shared)+2*curve.PublicKeySize)
	ikm = append(ikm, shared[:]...)
	ikm = eph.AppendBytes(ikm)
	ikm = recipient.AppendBytes(ikm)
	out := make([]byte, v2KeySize)
	kdf.HKDF(out, nil, ikm, labelDH)
	clear(ikm)
	subtle.XORBytes(out, out, in)
	return out, nil
}

// v2AuthTag computes AT for (sender, recipient, E, C); priv is the private
// key of one party and their the public key of the other.
func v2AuthTag(priv curve.PrivateKey, their, eph curve.PublicKey, c []byte, sender, recipient curve.PublicKey) ([]byte, error) {
	return v2AuthTagFrom(nil, priv, their, eph, c, sender, recipient)
}

// v2AuthTagFrom is v2AuthTag with the agreement given (static), if not nil.
func v2AuthTagFrom(static *[32]byte, priv curve.PrivateKey, their, eph curve.PublicKey, c []byte, sender, recipient curve.PublicKey) ([]byte, error) {
	var shared [32]byte
	if static != nil {
		shared = *static
	} else {
		var err error
		if shared, err = priv.Agree(their); err != nil {
			return nil, err
		}
	}
	ikm := make([]byte, 0, len(shared)+3*curve.PublicKeySize+len(c))
	ikm = append(ikm, shared[:]...)
	ikm = eph.AppendBytes(ikm)
	ikm = append(ikm, c...)
	ikm = sender.AppendBytes(ikm)
	ikm = recipient.AppendBytes(ikm)
	out := make([]byte, v2TagSize)
	kdf.HKDF(out, nil, ikm, labelDHSender)
	clear(ikm)
	return out, nil
}

// newMessageKey returns a fresh M.
func newMessageKey() []byte {
	m := make([]byte, v2KeySize)
	if _, err := rand.Read(m); err != nil {
		panic("sealed: " + err.Error())
	}
	return m
}

// openV2 opens a ReceivedMessage with the recipient's identity. It checks
// that M derives the E the message names, the GCM-SIV tag, and AT against
// the key of the certificate inside (each in constant time), but not the
// certificate itself. Errors wrap protocol.ErrInvalidMessage.
func openV2(b []byte, to identity.KeyPair, cache *staticCache) (*Content, error) {
	if len(b) < 1+V2KeyMaterialSize+v2PublicSize {
		return nil, invalid("sealed sender v2 message too short")
	}
	c, at := b[1:1+v2KeySize], b[1+v2KeySize:1+V2KeyMaterialSize]
	eph := curve.PublicKeyFromU([32]byte(b[1+V2KeyMaterialSize : 1+V2KeyMaterialSize+v2PublicSize]))
	body := b[1+V2KeyMaterialSize+v2PublicSize:]
	m, err := v2Wrap(to.Private, eph, eph, to.Public, c)
	if err != nil {
		return nil, invalid("the ephemeral key is unusable")
	}
	e, k := v2Keys(m)
	clear(m)
	if subtle.ConstantTimeCompare(e.Public.Bytes(), eph.Bytes()) != 1 {
		return nil, invalid("the message key does not derive the ephemeral key (not made for this recipient, or altered)")
	}
	plain, err := gcmsiv.Open(k, body)
	clear(k)
	if err != nil {
		return nil, invalid("the shared ciphertext fails its tag")
	}
	content, err := ParseContent(plain)
	if err != nil {
		return nil, err
	}
	sender := content.Sender.IdentityKey()
	shared, err := cache.agree(to.Private, sender)
	if err != nil {
		return nil, invalid("the certificate's identity key is unusable")
	}
	defer clear(shared[:])
	want, err := v2AuthTagFrom(&shared, to.Private, sender, eph, c, sender, to.Public)
	if err != nil {
		return nil, invalid("the certificate's identity key is unusable")
	}
	if subtle.ConstantTimeCompare(want, at) != 1 {
		return nil, invalid("the authentication tag does not match the certificate's identity key")
	}
	cache.remember(sender, &shared) // only once the message authenticated
	return content, nil
}

func v2Errorf(format string, args ...any) error {
	return errs.Newf(errs.InvalidMessage, "sealed sender v2: "+format, args...)
}
