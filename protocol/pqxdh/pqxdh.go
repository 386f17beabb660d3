// Package pqxdh is the PQXDH key agreement that starts every session, as
// libsignal 0.103 runs it: four (or, without a one-time prekey, three)
// X25519 agreements and one Kyber1024 encapsulation, fed to HKDF-SHA256.
//
//	secret = 0xFF*32 || DH(IK_A, SPK_B) || DH(EK_A, IK_B) || DH(EK_A, SPK_B)
//	         [|| DH(EK_A, OPK_B)] || Kyber1024 shared secret
//	out    = HKDF(no salt, secret, "WhisperText_X25519_SHA-256_CRYSTALS-KYBER-1024", 96)
//	root key = out[0:32], chain key = out[32:64], SPQR key = out[64:96]
//
// The initiator (Alice) uses a prekey bundle; the recipient (Bob) mirrors the
// computation with his private keys when the first message arrives.
// Checking bundle signatures is the caller's job (package prekey); the
// recipient's refusal of non-canonical base keys is done here.
package pqxdh

import (
	"fmt"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/kdf"
	"github.com/skymsg/sky/protocol/internal/redact"
	"github.com/skymsg/sky/protocol/kem"
)

const label = "WhisperText_X25519_SHA-256_CRYSTALS-KYBER-1024"

// Secrets are the three keys PQXDH derives.
type Secrets struct {
	RootKey  [32]byte // the Double Ratchet's first root key
	ChainKey [32]byte // the first chain key (Alice receives on it, Bob sends)
	SPQRKey  [32]byte // SPQR's authentication key
}

// Format redacts the secrets under every fmt verb.
func (s Secrets) Format(f fmt.State, _ rune) { redact.Format(f, "pqxdh.Secrets") }

// Initiator holds what Alice needs: her identity, a fresh base key, and
// Bob's verified bundle keys.
type Initiator struct {
	Identity           identity.KeyPair
	BaseKey            curve.KeyPair
	TheirIdentity      curve.PublicKey
	TheirSignedPreKey  curve.PublicKey
	TheirOneTimePreKey *curve.PublicKey // nil when the bundle has none
	TheirKyberPreKey   *kem.PublicKey
}

// Initiate runs Alice's side. It returns the secrets and the Kyber
// ciphertext (0x08 || 1568 bytes) to send in the PreKeySignalMessage.
func Initiate(p *Initiator) (Secrets, []byte, error) {
	if p.TheirKyberPreKey == nil {
		return Secrets{}, nil, errs.New(errs.InvalidKey, "PQXDH needs the recipient's Kyber prekey")
	}
	var in input
	if err := in.agree(p.Identity.Private, p.TheirSignedPreKey); err != nil {
		return Secrets{}, nil, err
	}
	if err := in.agree(p.BaseKey.Private, p.TheirIdentity); err != nil {
		return Secrets{}, nil, err
	}
	if err := in.agree(p.BaseKey.Private, p.TheirSignedPreKey); err != nil {
		return Secrets{}, nil, err
	}
	if p.TheirOneTimePreKey != nil {
		if err := in.agree(p.BaseKey.Private, *p.TheirOneTimePreKey); err != nil {
			return Secrets{}, nil, err
		}
	}
	ss, ct, err := p.TheirKyberPreKey.Encapsulate()
	if err != nil {
		return Secrets{}, nil, err
	}
	in.add(ss[:])
	return in.derive(), ct, nil
}

// Recipient holds what Bob needs: his identity and prekeys, and what the
// PreKeySignalMessage told him.
type Recipient struct {
	Identity        identity.KeyPair
	SignedPreKey    curve.KeyPair
	OneTimePreKey   *curve.KeyPair // nil when the message names none
	KyberPreKey     *kem.SecretKey
	TheirIdentity   curve.PublicKey
	TheirBaseKey    curve.PublicKey
	KyberCiphertext []byte
}

// Accept runs Bob's side. A base key that is not canonical (see
// curve.PublicKey.IsCanonical) is refused with ErrInvalidMessage before any
// computation, as libsignal does.
func Accept(p *Recipient) (Secrets, error) {
	if !p.TheirBaseKey.IsCanonical() {
		return Secrets{}, errs.New(errs.InvalidMessage, "incoming base key is not canonical")
	}
	if p.KyberPreKey == nil {
		return Secrets{}, errs.New(errs.InvalidKey, "PQXDH needs the Kyber prekey")
	}
	var in input
	if err := in.agree(p.SignedPreKey.Private, p.TheirIdentity); err != nil {
		return Secrets{}, err
	}
	if err := in.agree(p.Identity.Private, p.TheirBaseKey); err != nil {
		return Secrets{}, err
	}
	if err := in.agree(p.SignedPreKey.Private, p.TheirBaseKey); err != nil {
		return Secrets{}, err
	}
	if p.OneTimePreKey != nil {
		if err := in.agree(p.OneTimePreKey.Private, p.TheirBaseKey); err != nil {
			return Secrets{}, err
		}
	}
	ss, err := p.KyberPreKey.Decapsulate(p.KyberCiphertext)
	if err != nil {
		return Secrets{}, err
	}
	in.add(ss[:])
	return in.derive(), nil
}

// input accumulates the HKDF input: 32 bytes of 0xFF, the agreements, the
// KEM secret. It is wiped after use.
type input struct {
	b [32 * 6]byte
	n int
}

func (in *input) add(x []byte) {
	if in.n == 0 {
		for i := 0; i < 32; i++ {
			in.b[i] = 0xFF
		}
		in.n = 32
	}
	in.n += copy(in.b[in.n:], x)
}

func (in *input) agree(priv curve.PrivateKey, pub curve.PublicKey) error {
	s, err := priv.Agree(pub)
	if err != nil {
		return err
	}
	in.add(s[:])
	clear(s[:])
	return nil
}

func (in *input) derive() Secrets {
	var out [96]byte
	kdf.HKDF(out[:], nil, in.b[:in.n], label)
	clear(in.b[:])
	var s Secrets
	copy(s.RootKey[:], out[0:32])
	copy(s.ChainKey[:], out[32:64])
	copy(s.SPQRKey[:], out[64:96])
	clear(out[:])
	return s
}
