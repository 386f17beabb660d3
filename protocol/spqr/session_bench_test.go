package spqr_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/memstore"
	"github.com/skymsg/sky/protocol/prekey"
)

// party is one device of a benchmarked session, with in-memory stores that
// keep records encoded, as a durable store would.
type party struct {
	addr  protocol.Address
	store *memstore.Store
}

func newParty(name string) *party {
	return &party{protocol.Address{Name: name, DeviceID: 1}, memstore.New(identity.Generate(), identity.NewRegistrationID())}
}

// session starts a session from a to b, as ProcessPreKeyBundle and a first
// exchange do.
func session(b testing.TB) (alice, bob *party) {
	ctx, now := context.Background(), time.Unix(1_800_000_000, 0)
	alice = newParty("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa")
	bob = newParty("bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb")
	ik, _ := bob.store.IdentityKeyPair(ctx)
	reg, _ := bob.store.LocalRegistrationID(ctx)
	spk, kpk := prekey.NewSignedPreKey(1, ik, now), prekey.NewKyberPreKey(1, ik, now, false)
	bob.store.StoreSignedPreKey(spk)
	bob.store.StoreKyberPreKey(kpk)
	bundle := &prekey.Bundle{
		RegistrationID: reg, DeviceID: 1, IdentityKey: ik.Public,
		SignedPreKeyID: spk.ID, SignedPreKey: spk.KeyPair.Public, SignedPreKeySignature: spk.Signature[:],
		KyberPreKeyID: kpk.ID, KyberPreKey: kpk.KeyPair.Public, KyberPreKeySignature: kpk.Signature[:],
	}
	if err := protocol.ProcessPreKeyBundle(ctx, alice.store.Stores(), alice.addr, bob.addr, bundle, now); err != nil {
		b.Fatal(err)
	}
	return alice, bob
}

// BenchmarkConversation100B measures encrypt+decrypt of 100-byte messages
// averaged over a long conversation, SPQR epochs and Double Ratchet steps
// included: the sides take turns sending bursts of the given length, so one
// message in burst is a DH ratchet step. It reports the SPQR epoch reached.
func BenchmarkConversation100B(b *testing.B) {
	for _, burst := range []int{1, 5, 25} {
		b.Run(fmt.Sprintf("burst%d", burst), func(b *testing.B) {
			ctx := context.Background()
			alice, bob := session(b)
			pt := bytes.Repeat([]byte{'x'}, 100)
			sides := [2]*party{alice, bob}
			b.ReportAllocs()
			var last protocol.Ciphertext
			i := 0
			for b.Loop() {
				from, to := sides[(i/burst)%2], sides[1-(i/burst)%2]
				i++
				c, err := protocol.Encrypt(ctx, from.store.Stores(), from.addr, to.addr, pt, time.Unix(1_800_000_000, 0))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := protocol.Decrypt(ctx, to.store.Stores(), to.addr, from.addr, c); err != nil {
					b.Fatal(err)
				}
				last = c
			}
			b.ReportMetric(float64(epochOf(b, last)), "spqr-epoch")
		})
	}
}

// epochOf reads the SPQR epoch out of a message: the pq_ratchet field of its
// SignalMessage (field 5), whose second byte starts the epoch varint.
func epochOf(b testing.TB, c protocol.Ciphertext) uint64 {
	sm := c.Bytes
	if c.Type == protocol.TypePreKey {
		sm = field(sm[1:], 4)
	}
	pq := field(sm[1:len(sm)-8], 5)
	if len(pq) < 2 {
		b.Fatalf("no pq_ratchet field")
	}
	var e uint64
	for i, c := range pq[1:] {
		e |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			break
		}
	}
	return e
}

// field returns the bytes field number f of a protobuf message.
func field(b []byte, f int) []byte {
	for len(b) > 0 {
		key, n := uvarint(b)
		b = b[n:]
		switch key & 7 {
		case 0:
			_, n = uvarint(b)
			b = b[n:]
		case 2:
			l, n := uvarint(b)
			if int(key>>3) == f {
				return b[n : n+int(l)]
			}
			b = b[n+int(l):]
		default:
			return nil
		}
	}
	return nil
}

func uvarint(b []byte) (uint64, int) {
	var v uint64
	for i, c := range b {
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, len(b)
}
