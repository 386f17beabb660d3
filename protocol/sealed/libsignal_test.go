package sealed

import (
	"bytes"
	"testing"
	"time"

	"github.com/skymsg/sky/internal/testvec"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/identity"
)

// vectors is testdata/libsignal-vectors.json, made by libsignal 0.103.0
// (testdata/libsignal.js vectors; see testdata/README.md).
type vectors struct {
	TrustRootPrivate     testvec.Hex `json:"trust_root_private"`
	TrustRootPublic      testvec.Hex `json:"trust_root_public"`
	OtherTrustRootPublic testvec.Hex `json:"other_trust_root_public"`
	ServerPrivate        testvec.Hex `json:"server_private"`
	ServerPublic         testvec.Hex `json:"server_public"`
	SenderPrivate        testvec.Hex `json:"sender_private"`
	SenderPublic         testvec.Hex `json:"sender_public"`
	SenderUUID           string      `json:"sender_uuid"`
	SenderDevice         uint32      `json:"sender_device"`
	RecipientPrivate     testvec.Hex `json:"recipient_private"`
	RecipientPublic      testvec.Hex `json:"recipient_public"`
	RecipientUUID        string      `json:"recipient_uuid"`
	Expires              uint64      `json:"expires"`
	ServerCertificates   map[string]struct {
		ID          uint32      `json:"id"`
		Bytes       testvec.Hex `json:"bytes"`
		Certificate testvec.Hex `json:"certificate"`
	} `json:"server_certificates"`
	SenderCertificates map[string]struct {
		Bytes       testvec.Hex       `json:"bytes"`
		Certificate testvec.Hex       `json:"certificate"`
		E164        *string           `json:"e164"`
		ValidAt     []int64           `json:"valid_at"`
		Valid       map[string][]bool `json:"valid"`
	} `json:"sender_certificates"`
	Contents []struct {
		Name     string      `json:"name"`
		USMC     testvec.Hex `json:"usmc"`
		Envelope testvec.Hex `json:"envelope"`
		Opened   opened      `json:"opened"`
	} `json:"contents"`
}

// opened is libsignal's reading of a content (also the oracle's answer).
type opened struct {
	Type          int     `json:"type"`
	Hint          uint32  `json:"hint"`
	GroupID       []byte  `json:"group_id"`
	Content       []byte  `json:"content"`
	SenderCert    []byte  `json:"sender_certificate"`
	SenderUUID    string  `json:"sender_uuid"`
	SenderDevice  uint32  `json:"sender_device"`
	SenderE164    *string `json:"sender_e164"`
	IdentityKey   []byte  `json:"identity_key"`
	Expires       uint64  `json:"expires"`
	ValidAtOracle bool    `json:"valid"`
}

func loadVectors(t testing.TB) *vectors {
	t.Helper()
	var v vectors
	testvec.Load(t, "testdata/libsignal-vectors.json", &v)
	return &v
}

func mustPublic(t testing.TB, b []byte) curve.PublicKey {
	t.Helper()
	k, err := curve.ParsePublicKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustPrivate(t testing.TB, b []byte) curve.PrivateKey {
	t.Helper()
	k, err := curve.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestLibsignalServerCertificates parses libsignal's server certificates and
// checks that Sky signs exactly the same certificate bytes.
func TestLibsignalServerCertificates(t *testing.T) {
	v := loadVectors(t)
	root, err := ParseTrustRoot(v.TrustRootPrivate)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(root.Public().Bytes(), v.TrustRootPublic) {
		t.Fatalf("trust root public key %x, libsignal %x", root.Public().Bytes(), v.TrustRootPublic)
	}
	serverKey := mustPublic(t, v.ServerPublic)
	for name, sc := range v.ServerCertificates {
		c, err := ParseServerCertificate(sc.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c.KeyID() != sc.ID || c.Key() != serverKey || !bytes.Equal(c.Bytes(), sc.Bytes) || !bytes.Equal(c.certificate, sc.Certificate) {
			t.Errorf("%s: parsed id %d key %s", name, c.KeyID(), c.Key())
		}
	}
	mine, err := root.Certify(7, serverKey)
	if err != nil {
		t.Fatal(err)
	}
	if want := v.ServerCertificates["plain"].Certificate; !bytes.Equal(mine.certificate, want) {
		t.Errorf("Sky's certificate bytes %x, libsignal's %x", mine.certificate, want)
	}
	if err := mine.Validate(root.Public()); err != nil {
		t.Errorf("Sky's own server certificate: %v", err)
	}
}

// TestLibsignalSenderCertificates parses libsignal's sender certificates,
// re-creates them byte for byte (but for the randomized signature), and
// agrees with libsignal on every validation verdict: valid through the
// expiry millisecond, refused one millisecond later, refused under the other
// trust root, refused when the server key ID is revoked.
func TestLibsignalSenderCertificates(t *testing.T) {
	v := loadVectors(t)
	roots := map[string]curve.PublicKey{"root": mustPublic(t, v.TrustRootPublic), "other": mustPublic(t, v.OtherTrustRootPublic)}
	for name, sc := range v.SenderCertificates {
		c, err := ParseSenderCertificate(sc.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		e164, hasE164 := c.E164()
		if c.UUID() != v.SenderUUID || c.DeviceID() != v.SenderDevice || c.ExpiresMillis() != v.Expires ||
			!bytes.Equal(c.IdentityKey().Bytes(), v.SenderPublic) || hasE164 != (sc.E164 != nil) || (hasE164 && e164 != *sc.E164) ||
			!bytes.Equal(c.Bytes(), sc.Bytes) || !bytes.Equal(c.certificate, sc.Certificate) {
			t.Errorf("%s: parsed %+v", name, c.sender)
		}
		if c.Expires().UnixMilli() != int64(v.Expires) {
			t.Errorf("%s: Expires() = %v", name, c.Expires())
		}
		for rootName, verdicts := range sc.Valid {
			for i, at := range sc.ValidAt {
				err := c.Validate(time.UnixMilli(at), roots[rootName])
				if (err == nil) != verdicts[i] {
					t.Errorf("%s under %s at %d: Validate = %v, libsignal says valid=%v", name, rootName, at, err, verdicts[i])
				}
			}
		}

		// The same certificate made by Sky has the same signed bytes.
		s := Sender{UUID: c.UUID(), DeviceID: c.DeviceID(), IdentityKey: c.IdentityKey()}
		if hasE164 {
			s.E164 = e164
		}
		mine, err := NewSenderCertificate(s, c.Expires(), c.Signer(), mustPrivate(t, v.ServerPrivate))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(mine.certificate, sc.Certificate) {
			t.Errorf("%s: Sky's certificate bytes\n%x\nlibsignal's\n%x", name, mine.certificate, sc.Certificate)
		}
	}
}

// TestLibsignalContents reads libsignal's contents of every message type,
// encodes them again byte for byte, and opens libsignal's sealed envelopes.
func TestLibsignalContents(t *testing.T) {
	v := loadVectors(t)
	recipient := identity.FromPrivate(mustPrivate(t, v.RecipientPrivate))
	for _, tc := range v.Contents {
		t.Run(tc.Name, func(t *testing.T) {
			c, err := ParseContent(tc.USMC)
			if err != nil {
				t.Fatal(err)
			}
			checkOpened(t, c, &tc.Opened)
			again, err := c.Bytes()
			if err != nil || !bytes.Equal(again, tc.USMC) {
				t.Fatalf("re-encoded content (%v)\n%x\nlibsignal's\n%x", err, again, tc.USMC)
			}
			got, err := Open(tc.Envelope, recipient)
			if err != nil {
				t.Fatalf("Open(libsignal's envelope): %v", err)
			}
			checkOpened(t, got, &tc.Opened)
			r := &Recipient{Identity: recipient, UUID: v.RecipientUUID, DeviceID: 1, TrustRoots: []curve.PublicKey{mustPublic(t, v.TrustRootPublic)}}
			if _, err := Decrypt(tc.Envelope, r, time.UnixMilli(int64(v.Expires))); err != nil {
				t.Fatalf("Decrypt at the expiry: %v", err)
			}
		})
	}
}

func checkOpened(t *testing.T, c *Content, want *opened) {
	t.Helper()
	e164, hasE164 := c.Sender.E164()
	if int(c.Type) != want.Type || uint32(c.Hint) != want.Hint || !bytes.Equal(c.GroupID, want.GroupID) ||
		!bytes.Equal(c.Message, want.Content) || !bytes.Equal(c.Sender.Bytes(), want.SenderCert) ||
		c.Sender.UUID() != want.SenderUUID || c.Sender.DeviceID() != want.SenderDevice ||
		!bytes.Equal(c.Sender.IdentityKey().Bytes(), want.IdentityKey) || c.Sender.ExpiresMillis() != want.Expires ||
		hasE164 != (want.SenderE164 != nil) || (hasE164 && e164 != *want.SenderE164) {
		t.Fatalf("content: type %v hint %d group %x sender %s.%d; libsignal: type %d hint %d group %x sender %s.%d",
			c.Type, c.Hint, c.GroupID, c.Sender.UUID(), c.Sender.DeviceID(),
			want.Type, want.Hint, want.GroupID, want.SenderUUID, want.SenderDevice)
	}
}
