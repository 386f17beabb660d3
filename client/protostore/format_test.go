package protostore

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
)

// TestFormatRedacts: a Stores holds the device's identity key pair, session
// records waiting for Commit and a store transaction. Printed with any verb,
// directly or from a struct that holds it, it shows no key or record
// (acceptance test 23) and reads nothing of the transaction.
func TestFormatRedacts(t *testing.T) {
	alice, bob := newDevice(t, "alice"), newDevice(t, "bob")
	ct := first(t, alice, bob, bob.bundle(t, true, false))
	secrets := [][]byte{bob.local.KeyPair.Private.Bytes()}
	bob.st.Update(func(tx *store.Tx) error {
		ps := New(tx, bob.local, t0)
		if _, err := protocol.Decrypt(ctx, ps.Protocol(), bob.addr(), alice.addr(), ct); err != nil {
			t.Fatal(err)
		}
		rec := ps.sessions[alice.addr()]
		if len(rec) == 0 {
			t.Fatal("no session record held after a decryption")
		}
		secrets = append(secrets, rec[len(rec)/2:len(rec)/2+16])
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
			for _, v := range []any{ps, *ps} {
				if got := fmt.Sprintf(verb, v); got != "protostore.Stores" {
					t.Errorf("fmt %s of %T = %q, want protostore.Stores", verb, v, got)
				}
			}
			got := fmt.Sprintf(verb, struct{ s *Stores }{ps})
			for _, s := range secrets {
				for _, enc := range []string{hex.EncodeToString(s), strings.ToUpper(hex.EncodeToString(s)), fmt.Sprint(s[:6]), fmt.Sprintf("%q", s[:6])} {
					if strings.Contains(got, strings.Trim(enc, "[]\"")) {
						t.Errorf("fmt %s of a struct holding a Stores shows a secret: %s", verb, got)
					}
				}
			}
		}
		return nil
	})
}
