package interop

import (
	"bytes"
	"testing"
)

// TestSealedSender proves sealed sender (v1) between the peers: the
// recipient learns sender, device, message type, content hint, group id and
// plaintext; a certificate under another trust root, or past its expiry, is
// refused as InvalidSenderCertificate without consuming the message; a
// tampered, truncated or empty envelope is refused as InvalidMessage.
func TestSealedSender(t *testing.T) {
	forEachPairing(t, func(t *testing.T, a, b *side) {
		ca, err := a.SealedConfig(SealedConfigOptions{})
		cb, errB := b.SealedConfig(SealedConfigOptions{})
		if err != nil || errB != nil {
			t.Fatalf("sealed_config: %s: %v; %s: %v", a.Label, err, b.Label, errB)
		}
		if !bytes.Equal(ca.TrustRootPublic, cb.TrustRootPublic) || len(ca.TrustRootPublic) != 33 {
			t.Fatalf("the default trust root (private key of 32 zero bytes) has public keys %x (%s) and %x (%s)", ca.TrustRootPublic, a.Label, cb.TrustRootPublic, b.Label)
		}
		if err := a.ProcessBundle(b.addr(), b.id.Bundle); err != nil {
			t.Fatal(err)
		}

		seal := func(from, to *side, pt []byte, hint int, group []byte) []byte {
			t.Helper()
			ct, err := from.SealedEncrypt(to.addr(), pt, hint, group)
			if err != nil {
				t.Fatalf("%s: sealed_encrypt: %v", from.Label, err)
			}
			return ct
		}
		open := func(from, to *side, ct, pt []byte, at int64, msgType, hint int, group []byte) {
			t.Helper()
			u, err := to.SealedDecrypt(ct, at)
			if err != nil {
				t.Fatalf("%s: sealed_decrypt of a message from %s: %v", to.Label, from.Label, err)
			}
			if u.SenderUUID != from.id.Name || u.SenderDeviceID != from.id.DeviceID || u.MessageType != msgType ||
				u.ContentHint != hint || !bytes.Equal(u.GroupID, group) || !bytes.Equal(u.Plaintext, pt) {
				t.Fatalf("%s: unsealed %+v\nwant sender %s.%d, type %d, hint %d, group %x, plaintext %x", to.Label, u, from.id.Name, from.id.DeviceID, msgType, hint, group, pt)
			}
		}
		refuse := func(to *side, ct []byte, at int64, want, what string) {
			t.Helper()
			_, err := to.SealedDecrypt(ct, at)
			if ErrorType(err) != want {
				t.Fatalf("%s: sealed_decrypt of %s: %v, want %s", to.Label, what, err, want)
			}
		}

		first := []byte("sealed hello")
		ct := seal(a, b, first, 0, nil)
		open(a, b, ct, first, 0, 3, 0, nil)
		group := []byte("0123456789abcdef")
		reply := []byte("sealed reply with a group id")
		ct = seal(b, a, reply, 1, group)
		open(b, a, ct, reply, 0, 2, 1, group)

		// Another trust root: refused, and the message is not consumed.
		if _, err := b.SealedConfig(SealedConfigOptions{TrustRootPrivate: bytes.Repeat([]byte{0x22}, 32)}); err != nil {
			t.Fatal(err)
		}
		ct = seal(a, b, []byte("under the wrong root"), 2, nil)
		refuse(b, ct, 0, "InvalidSenderCertificate", "a certificate under another trust root")
		if _, err := b.SealedConfig(SealedConfigOptions{}); err != nil {
			t.Fatal(err)
		}
		open(a, b, ct, []byte("under the wrong root"), 0, 2, 2, nil)

		// Expiry: valid up to and including expires_ms, refused one ms later.
		const expires = 1_700_000_000_000
		if _, err := a.SealedConfig(SealedConfigOptions{ExpiresMS: expires}); err != nil {
			t.Fatal(err)
		}
		ct = seal(a, b, []byte("expiring"), 0, nil)
		refuse(b, ct, expires+1, "InvalidSenderCertificate", "a certificate 1 ms past its expiry")
		open(a, b, ct, []byte("expiring"), expires, 2, 0, nil)
		if _, err := a.SealedConfig(SealedConfigOptions{}); err != nil { // a certificate valid now
			t.Fatal(err)
		}

		// Damaged envelopes: refused, nothing lost.
		ct = seal(a, b, []byte("intact"), 0, nil)
		for _, bad := range []struct {
			what string
			ct   []byte
		}{
			{"an empty envelope", []byte{}},
			{"an envelope cut in half", ct[:len(ct)/2]},
			{"an envelope with its last byte flipped", flipByte(ct, len(ct)-1)},
			{"an envelope with its encrypted sender flipped", flipByte(ct, 40)},
		} {
			refuse(b, bad.ct, 0, "InvalidMessage", bad.what)
		}
		open(a, b, ct, []byte("intact"), 0, 2, 0, nil)
	})
}

func flipByte(b []byte, i int) []byte {
	out := append([]byte(nil), b...)
	out[i] ^= 0x01
	return out
}
