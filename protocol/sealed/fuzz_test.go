package sealed

import (
	"bytes"
	"errors"
	"testing"

	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/internal/errs"
)

// The fuzz targets check that every decoder fails cleanly (an error of the
// documented kind, no panic) and that what it accepts encodes back to an
// equivalent value. Seeds are libsignal's bytes from the vectors.

func FuzzParseServerCertificate(f *testing.F) {
	v := loadVectors(f)
	for _, sc := range v.ServerCertificates {
		f.Add([]byte(sc.Bytes))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseServerCertificate(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidCertificate) {
				t.Fatalf("error of the wrong kind: %v", err)
			}
			return
		}
		if !bytes.Equal(c.Bytes(), b) {
			t.Fatal("Bytes() is not the parsed input")
		}
		again, err := ParseServerCertificate(c.Bytes())
		if err != nil || again.KeyID() != c.KeyID() || again.Key() != c.Key() {
			t.Fatalf("reparse: %v", err)
		}
	})
}

func FuzzParseSenderCertificate(f *testing.F) {
	v := loadVectors(f)
	for _, sc := range v.SenderCertificates {
		f.Add([]byte(sc.Bytes))
	}
	root := mustPublic(f, v.TrustRootPublic)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseSenderCertificate(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidCertificate) {
				t.Fatalf("error of the wrong kind: %v", err)
			}
			return
		}
		if c.DeviceID() < 1 || c.DeviceID() > MaxDeviceID {
			t.Fatalf("accepted device %d", c.DeviceID())
		}
		if err := c.Validate(c.Expires(), root); err != nil && !errors.Is(err, ErrInvalidCertificate) {
			t.Fatalf("Validate: error of the wrong kind: %v", err)
		}
	})
}

func FuzzParseContent(f *testing.F) {
	v := loadVectors(f)
	for _, c := range v.Contents {
		f.Add([]byte(c.USMC))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseContent(b)
		if err != nil {
			if !errors.Is(err, errs.InvalidMessage) {
				t.Fatalf("error of the wrong kind: %v", err)
			}
			return
		}
		enc, err := c.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseContent(enc)
		if err != nil || again.Type != c.Type || again.Hint != c.Hint || !bytes.Equal(again.Message, c.Message) ||
			!bytes.Equal(again.GroupID, c.GroupID) || !bytes.Equal(again.Sender.Bytes(), c.Sender.Bytes()) {
			t.Fatalf("re-encoded content reads differently: %v", err)
		}
	})
}

// FuzzOpen opens arbitrary envelopes with the recipient key of the
// vectors; libsignal's envelopes are the seeds (and open).
func FuzzOpen(f *testing.F) {
	v := loadVectors(f)
	for _, c := range v.Contents {
		f.Add([]byte(c.Envelope))
	}
	recipient := identity.FromPrivate(mustPrivate(f, v.RecipientPrivate))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Open(b, recipient)
		if err != nil {
			if !errors.Is(err, errs.InvalidMessage) {
				t.Fatalf("error of the wrong kind: %v", err)
			}
			return
		}
		if c.Sender == nil || c.Message == nil {
			t.Fatal("opened content without sender or message")
		}
	})
}
