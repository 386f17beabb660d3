package keyfile

import (
	"bytes"
	"slices"
	"testing"

	"github.com/skymsg/sky/client/store/envelope"
)

// FuzzParse feeds arbitrary files to Parse: it must never panic, and whatever
// it accepts must re-encode to a half that parses to the same header.
func FuzzParse(f *testing.F) {
	kf, _, _ := newFile(f, tiny)
	good := whole(kf)
	f.Add(good)
	f.Add(good[:HalfSize])
	f.Add(append(WipeMarker(), good[16:]...))
	f.Add(append(bytes.Clone(good[:HalfSize]), make([]byte, HalfSize)...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Parse(b)
		if err != nil {
			return
		}
		h := g.MarshalHalf()
		again, err := Parse(append(bytes.Clone(h), h...))
		if err != nil {
			t.Fatalf("re-encoded file does not parse: %v", err)
		}
		if again.Params != g.Params || again.Salt != g.Salt || again.Generation != g.Generation ||
			again.FailedUnlocks != g.FailedUnlocks || again.MaxFailedUnlocks != g.MaxFailedUnlocks ||
			again.slots != g.slots || again.payload != g.payload {
			t.Fatal("re-encoded file differs")
		}
	})
}

// FuzzDecodePayload checks the payload decoder on arbitrary plaintexts.
func FuzzDecodePayload(f *testing.F) {
	pk := envelope.NewKey()
	kf, _, _ := newFile(f, tiny)
	kf.SealPayload(&pk, Payload{DeleteAccount: true, Account: []byte("account")})
	f.Add(make([]byte, PayloadSize))
	f.Add([]byte{1, 0, 3, 'a', 'b', 'c'})
	f.Add(append([]byte{3, 0, 1, 'a', 0, 3, 'x', 0, 'y'}, make([]byte, PayloadSize-9)...))
	f.Add(append([]byte{7, 0, 1, 'a', 0, 2, 'w', 'l', 0, 1, 'y'}, make([]byte, PayloadSize-11)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePayload(b)
		if err != nil {
			return
		}
		if len(p.Account) > MaxAccount {
			t.Fatal("accepted an oversized account")
		}
		if err := kf.SealPayload(&pk, p); err != nil {
			t.Fatalf("decoded payload does not re-seal: %v", err)
		}
		q, err := kf.OpenPayload(&pk)
		if err != nil || q.DeleteAccount != p.DeleteAccount || !bytes.Equal(q.Account, p.Account) || !slices.Equal(q.Backups, p.Backups) ||
			!bytes.Equal(q.WipeList, p.WipeList) {
			t.Fatalf("payload round trip failed: %v", err)
		}
	})
}
