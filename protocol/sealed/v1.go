package sealed

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"time"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/kdf"
	"github.com/skymsg/sky/protocol/internal/pb"
)

// Version is the version byte of sealed sender v1 envelopes that Encrypt
// writes. Open accepts any first byte whose high nibble is 0 or 1, as
// libsignal does.
const Version = 0x11

// macSize is the length of the truncated HMAC-SHA256 after each ciphertext.
const macSize = 10

// saltPrefix starts the salt of the first key derivation.
const saltPrefix = "UnidentifiedDelivery"

// EncryptedStaticSize is the size of the encrypted sender identity key: 33
// bytes of AES-CTR output and a 10-byte MAC.
const EncryptedStaticSize = curve.PublicKeySize + macSize

// Encrypt seals c for the recipient whose identity key is to, from the
// sender identity from (sealed sender v1). c's certificate must vouch for
// from's public key. The envelope is
//
//	0x11 || {1: ephemeral public key, 2: encrypted sender key, 3: encrypted content}
//
// where the sender key is encrypted under keys from DH(ephemeral, to) and the
// content under keys from DH(from, to), each with AES-256-CTR and a 10-byte
// HMAC-SHA256.
func Encrypt(c *Content, from identity.KeyPair, to curve.PublicKey) ([]byte, error) {
	if c.Sender == nil || c.Sender.IdentityKey() != from.Public {
		return nil, errs.New(errs.InvalidKey, "sealed sender: the certificate does not vouch for the sending identity key")
	}
	content, err := c.Bytes()
	if err != nil {
		return nil, err
	}
	return seal(content, from, to, curve.GenerateKeyPair())
}

// seal is Encrypt with a given ephemeral key and no certificate check.
func seal(content []byte, from identity.KeyPair, to curve.PublicKey, eph curve.KeyPair) ([]byte, error) {
	chain, cipherKey, macKey, err := ephemeralKeys(eph.Private, to, to, eph.Public)
	if err != nil {
		return nil, err
	}
	static := encryptThenMAC(cipherKey, macKey, from.Public.Bytes())
	cipherKey, macKey, err = staticKeys(from.Private, to, chain, static)
	if err != nil {
		return nil, err
	}
	body := encryptThenMAC(cipherKey, macKey, content)

	b := make([]byte, 0, 1+2+curve.PublicKeySize+2+len(static)+4+len(body))
	b = append(b, Version)
	b = pb.AppendBytes(b, 1, eph.Public.Bytes())
	b = pb.AppendBytes(b, 2, static)
	return pb.AppendBytes(b, 3, body), nil
}

// Open removes the sealed-sender layer (v1, or a v2 ReceivedMessage) with
// the recipient's identity and returns the content. It checks both MACs (in constant time) and that the
// certificate's identity key is the key the envelope was sealed with, but
// not the certificate itself: use Decrypt, or Content.Sender.Validate. Every
// failure wraps protocol.ErrInvalidMessage.
func Open(envelope []byte, to identity.KeyPair) (*Content, error) {
	return open(envelope, to, nil)
}

// open is Open with an optional cache of static agreements (opener.go).
func open(envelope []byte, to identity.KeyPair, cache *staticCache) (*Content, error) {
	if len(envelope) > 0 && envelope[0]>>4 == 2 {
		return openV2(envelope, to, cache) // a v2 ReceivedMessage (v2.go)
	}
	eph, static, body, err := parseEnvelope(envelope)
	if err != nil {
		return nil, err
	}
	chain, cipherKey, macKey, err := ephemeralKeys(to.Private, eph, to.Public, eph)
	if err != nil {
		return nil, invalid("the ephemeral key is unusable")
	}
	senderKeyBytes, ok := checkThenDecrypt(cipherKey, macKey, static)
	if !ok {
		return nil, invalid("the encrypted sender key fails its MAC")
	}
	senderKey, err := curve.ParsePublicKey(senderKeyBytes)
	if err != nil {
		return nil, invalid("the sender key does not parse")
	}
	shared, err := cache.agree(to.Private, senderKey)
	if err != nil {
		return nil, invalid("the sender key is unusable")
	}
	cipherKey, macKey = staticKeysFrom(&shared, chain, static)
	plain, ok := checkThenDecrypt(cipherKey, macKey, body)
	if !ok {
		clear(shared[:])
		return nil, invalid("the encrypted content fails its MAC")
	}
	c, err := ParseContent(plain)
	if err != nil {
		clear(shared[:])
		return nil, err
	}
	certKey := c.Sender.IdentityKey().Bytes()
	if subtle.ConstantTimeCompare(certKey, senderKeyBytes) != 1 {
		clear(shared[:])
		return nil, invalid("the certificate's identity key is not the key the message was sealed with")
	}
	cache.remember(senderKey, &shared) // only once the envelope authenticated
	clear(shared[:])
	return c, nil
}

// Recipient is what Decrypt needs to know about the receiving device.
type Recipient struct {
	Identity identity.KeyPair
	// UUID and DeviceID name this device; a message whose certificate names
	// them is a self-send and refused.
	UUID     string
	DeviceID uint32
	// TrustRoots are the pinned trust-root public keys.
	TrustRoots []curve.PublicKey
}

// Decrypt opens a sealed sender envelope (Open), validates the sender
// certificate at now against the recipient's trust roots, and refuses a
// message from the recipient's own device. Errors wrap
// protocol.ErrInvalidMessage (bad envelope), ErrInvalidCertificate or
// ErrSelfSend. The caller then decrypts Content.Message according to
// Content.Type, from the sender Content.Sender names.
func Decrypt(envelope []byte, r *Recipient, now time.Time) (*Content, error) {
	c, err := Open(envelope, r.Identity)
	if err != nil {
		return nil, err
	}
	if err := c.Sender.Validate(now, r.TrustRoots...); err != nil {
		return nil, err
	}
	if c.Sender.UUID() == r.UUID && c.Sender.DeviceID() == r.DeviceID {
		return nil, errs.Newf(ErrSelfSend, "device %s.%d", r.UUID, r.DeviceID)
	}
	return c, nil
}

// parseEnvelope checks the version byte and splits a v1 envelope. All three
// fields are required; the ephemeral key must parse.
func parseEnvelope(b []byte) (eph curve.PublicKey, static, body []byte, err error) {
	if len(b) == 0 {
		return eph, nil, nil, invalid("empty envelope")
	}
	if v := b[0] >> 4; v > 1 {
		if v == 2 {
			return eph, nil, nil, invalid("sealed sender v2 (multi-recipient) is not supported")
		}
		return eph, nil, nil, invalid("unknown sealed sender version")
	}
	var ephRaw []byte
	r := pb.NewReader(b[1:])
	for {
		num, ok := r.Next()
		if !ok {
			break
		}
		switch num {
		case 1:
			ephRaw = r.Bytes()
		case 2:
			static = r.Bytes()
		case 3:
			body = r.Bytes()
		default:
			r.Skip(num)
		}
	}
	if r.Err() != nil {
		return eph, nil, nil, invalid(r.Err().Error())
	}
	if ephRaw == nil || static == nil || body == nil {
		return eph, nil, nil, invalid("a field of the envelope is missing")
	}
	if eph, err = curve.ParsePublicKey(ephRaw); err != nil {
		return eph, nil, nil, invalid("the ephemeral key does not parse")
	}
	return eph, static, body, nil
}

// ephemeralKeys derives (chain, cipher, mac) from DH(priv, pub) with the salt
// "UnidentifiedDelivery" || recipient key || ephemeral key.
func ephemeralKeys(priv curve.PrivateKey, pub, recipient, ephemeral curve.PublicKey) (chain, cipherKey, macKey []byte, err error) {
	shared, err := priv.Agree(pub)
	if err != nil {
		return nil, nil, nil, err
	}
	salt := make([]byte, 0, len(saltPrefix)+2*curve.PublicKeySize)
	salt = append(salt, saltPrefix...)
	salt = recipient.AppendBytes(salt)
	salt = ephemeral.AppendBytes(salt)
	out := make([]byte, 96)
	kdf.HKDF(out, salt, shared[:], "")
	return out[:32], out[32:64], out[64:], nil
}

// staticKeys derives (cipher, mac) from DH(priv, pub) with the salt
// chain || encrypted sender key; the first 32 bytes of output are unused.
func staticKeys(priv curve.PrivateKey, pub curve.PublicKey, chain, static []byte) (cipherKey, macKey []byte, err error) {
	shared, err := priv.Agree(pub)
	if err != nil {
		return nil, nil, err
	}
	cipherKey, macKey = staticKeysFrom(&shared, chain, static)
	clear(shared[:])
	return cipherKey, macKey, nil
}

// staticKeysFrom is staticKeys with the agreement given.
func staticKeysFrom(shared *[curve.SharedSize]byte, chain, static []byte) (cipherKey, macKey []byte) {
	salt := make([]byte, 0, len(chain)+len(static))
	salt = append(append(salt, chain...), static...)
	out := make([]byte, 96)
	kdf.HKDF(out, salt, shared[:], "")
	return out[32:64], out[64:]
}

// ctr applies AES-256-CTR with an all-zero initial counter block. libsignal
// increments only the low 32 bits; the two agree below 2^32 blocks (64 GiB).
func ctr(key, dst, src []byte) {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("sealed: " + err.Error()) // unreachable: keys are 32 bytes
	}
	var iv [aes.BlockSize]byte
	cipher.NewCTR(block, iv[:]).XORKeyStream(dst, src)
}

// encryptThenMAC returns AES-CTR(plaintext) || HMAC(mac key, that)[:10].
func encryptThenMAC(cipherKey, macKey, plaintext []byte) []byte {
	out := make([]byte, len(plaintext), len(plaintext)+macSize)
	ctr(cipherKey, out, plaintext)
	mac := kdf.HMACLong(macKey, nil, out) // out is on the heap anyway
	return append(out, mac[:macSize]...)
}

// checkThenDecrypt verifies the truncated MAC in constant time, then decrypts.
func checkThenDecrypt(cipherKey, macKey, b []byte) ([]byte, bool) {
	if len(b) < macSize {
		return nil, false
	}
	body, tag := b[:len(b)-macSize], b[len(b)-macSize:]
	mac := kdf.HMACLong(macKey, nil, body) // the envelope's own bytes: hashed where they lie
	if subtle.ConstantTimeCompare(mac[:macSize], tag) != 1 {
		return nil, false
	}
	out := make([]byte, len(body))
	ctr(cipherKey, out, body)
	return out, true
}

func invalid(detail string) error {
	return errs.New(errs.InvalidMessage, "sealed sender: "+detail)
}
