package spqr_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/skymsg/sky/internal/testvec"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/memstore"
)

// TestLiteSessionRecordsKeepDecrypting restores two devices whose session
// was started and stored by the SPQR-lite protocol core (commit 7d59dbb;
// testdata/lite-session-records.json): identities, session records, and
// messages still in flight (one ahead of a skipped key, and a new ratchet
// step). With the braid in place the in-flight messages decrypt, and the
// session keeps working both ways, in SPQR-lite form (epoch 1), because a
// lite record does not hold the authentication key the braid would need.
func TestLiteSessionRecordsKeepDecrypting(t *testing.T) {
	var fx struct {
		AliceName, BobName                 string
		AliceIdentity, BobIdentity         string
		AliceRegistration, BobRegistration uint32
		AliceRecord, BobRecord             string
		ToBob, ToAlice                     []struct {
			Type             int
			Bytes, Plaintext string
		}
	}
	testvec.Load(t, "testdata/lite-session-records.json", &fx)
	ctx := context.Background()
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	restore := func(name, id string, reg uint32) *party {
		ik, err := identity.Parse(unhex(id))
		if err != nil {
			t.Fatal(err)
		}
		return &party{protocol.Address{Name: name, DeviceID: 1}, memstore.New(ik, reg)}
	}
	alice := restore(fx.AliceName, fx.AliceIdentity, fx.AliceRegistration)
	bob := restore(fx.BobName, fx.BobIdentity, fx.BobRegistration)
	for _, p := range []struct {
		me, peer *party
		record   string
	}{{alice, bob, fx.AliceRecord}, {bob, alice, fx.BobRecord}} {
		ik, _ := p.peer.store.IdentityKeyPair(ctx)
		p.me.store.AcceptIdentity(p.peer.addr, ik.Public)
		rec, err := protocol.ParseSessionRecord(unhex(p.record))
		if err != nil {
			t.Fatalf("lite session record refused: %v", err)
		}
		if err := p.me.store.StoreSession(ctx, p.peer.addr, rec); err != nil {
			t.Fatal(err)
		}
	}
	decrypt := func(to, from *party, c protocol.Ciphertext, want []byte) {
		t.Helper()
		got, err := protocol.Decrypt(ctx, to.store.Stores(), to.addr, from.addr, c)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %q, %v; want %q", to.addr.Name, got, err, want)
		}
		if e := epochOf(t, c); e != 1 {
			t.Fatalf("message in SPQR epoch %d, want 1 (SPQR-lite)", e)
		}
	}
	for _, m := range fx.ToBob {
		decrypt(bob, alice, protocol.Ciphertext{Type: protocol.MessageType(m.Type), Bytes: unhex(m.Bytes)}, []byte(m.Plaintext))
	}
	for _, m := range fx.ToAlice {
		decrypt(alice, bob, protocol.Ciphertext{Type: protocol.MessageType(m.Type), Bytes: unhex(m.Bytes)}, []byte(m.Plaintext))
	}
	now := time.Unix(1_800_000_000, 0)
	for round := range 30 {
		for _, dir := range [][2]*party{{alice, bob}, {bob, alice}} {
			for i := range 1 + round%5 {
				pt := []byte(fmt.Sprint("after the upgrade ", round, i))
				c, err := protocol.Encrypt(ctx, dir[0].store.Stores(), dir[0].addr, dir[1].addr, pt, now)
				if err != nil {
					t.Fatal(err)
				}
				decrypt(dir[1], dir[0], c, pt)
			}
		}
	}
}
