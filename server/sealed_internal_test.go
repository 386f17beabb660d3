package server

import (
	"context"
	"testing"

	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/server/store/sqlite"
)

// FuzzSealedRecord feeds the decoder of the stored sealed-sender record
// arbitrary bytes: an error or a usable issuer, never a panic.
func FuzzSealedRecord(f *testing.F) {
	st, err := sqlite.Open(context.Background(), f.TempDir()+"/sky.db")
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	if _, err := Certify(context.Background(), st, sealed.GenerateTrustRoot(), 0); err != nil {
		f.Fatal(err)
	}
	good, err := st.Meta(context.Background(), sealedMeta)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x01, 0x05})
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseSealed(b)
		if err == nil && (st.issuer == nil || st.issuer.ServerCertificate().Validate(st.root) != nil) {
			t.Fatal("a record that parses without a valid certificate")
		}
	})
}
