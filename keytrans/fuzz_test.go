package keytrans

import (
	"bytes"
	"testing"
)

func FuzzDecodeLookup(f *testing.F) {
	fx := standardFixture(f)
	f.Add(fx.lookup("acct1-1").Encode())
	f.Add(fx.lookup("nobody").Encode())
	h := fx.heads[len(fx.heads)-1].Head
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := DecodeLookup(b)
		if err != nil {
			return
		}
		if !bytes.Equal(l.Encode(), b) {
			t.Fatal("accepted a non-canonical encoding")
		}
		e, err := VerifyLookup(fx.cert, &h, "acct1-1", l)
		if err == nil && (e == nil || !bytes.Equal(e.Value, fx.values["acct1-1"])) {
			t.Fatal("forged lookup for acct1-1 verified")
		}
	})
}

func FuzzDecodeEpoch(f *testing.F) {
	fx := standardFixture(f)
	for _, e := range fx.epochs {
		f.Add(e.Encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEpoch(b)
		if err != nil {
			return
		}
		if !bytes.Equal(e.Encode(), b) {
			t.Fatal("accepted a non-canonical encoding")
		}
		a := &Auditor{}
		_ = a.Apply(e) // must not panic
	})
}

func FuzzDecodeSignedHead(f *testing.F) {
	fx := standardFixture(f)
	f.Add(fx.heads[0].Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSignedHead(b)
		if err != nil {
			return
		}
		if !bytes.Equal(s.Encode(), b) {
			t.Fatal("accepted a non-canonical encoding")
		}
		if s.Verify(fx.cert) == nil && !bytes.Equal(b[:HeadSize], fx.heads[0].Head.Encode()) {
			found := false
			for _, h := range fx.heads {
				found = found || h.Head == s.Head
			}
			if !found {
				t.Fatal("forged head verified")
			}
		}
	})
}

func FuzzDecodeCertificate(f *testing.F) {
	fx := newFixture(f)
	f.Add(fx.cert.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCertificate(b)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Encode(), b) {
			t.Fatal("accepted a non-canonical encoding")
		}
		if c.Verify(fx.root.Public) == nil && *c != *fx.cert {
			t.Fatal("forged certificate verified")
		}
	})
}

func FuzzDecodeAuditorSignature(f *testing.F) {
	fx := newFixture(f)
	h := Head{Size: 3}
	f.Add(Countersign(&h, fx.root.Private).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeAuditorSignature(b)
		if err != nil {
			return
		}
		if !bytes.Equal(a.Encode(), b) {
			t.Fatal("accepted a non-canonical encoding")
		}
	})
}

func FuzzRestoreAuditor(f *testing.F) {
	fx := standardFixture(f)
	a := &Auditor{}
	for _, e := range fx.epochs {
		a.Apply(e)
		f.Add(a.State())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := RestoreAuditor(b)
		if err != nil {
			return
		}
		if !bytes.Equal(a.State(), b) {
			t.Fatal("accepted a non-canonical state")
		}
	})
}
