package protocol_test

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/skymsg/sky/internal/testvec"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/kem"
	"github.com/skymsg/sky/protocol/memstore"
	"github.com/skymsg/sky/protocol/message"
	"github.com/skymsg/sky/protocol/prekey"
)

// libsignalSession is testdata/libsignal_first_messages.json: three
// messages libsignal 0.103.0 encrypted to a Bob whose private keys Sky made.
type libsignalSession struct {
	Alice struct {
		Name           string `json:"name"`
		DeviceID       uint32 `json:"device_id"`
		IdentityKey    string `json:"identity_key"`
		RegistrationID uint32 `json:"registration_id"`
	} `json:"alice"`
	Bob struct {
		Name             string `json:"name"`
		DeviceID         uint32 `json:"device_id"`
		RegistrationID   uint32 `json:"registration_id"`
		SignedPreKeyID   uint32 `json:"signed_prekey_id"`
		OneTimePreKeyID  uint32 `json:"one_time_prekey_id"`
		KyberPreKeyID    uint32 `json:"kyber_prekey_id"`
		IdentityPrivate  string `json:"identity_private"`
		SignedPreKeyPriv string `json:"signed_prekey_private"`
		OneTimePriv      string `json:"one_time_prekey_private"`
		KyberSeed        string `json:"kyber_seed"`
	} `json:"bob"`
	Messages []struct {
		Type       uint8  `json:"type"`
		Ciphertext string `json:"ciphertext"`
		Plaintext  string `json:"plaintext"`
	} `json:"messages"`
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// libsignalBob loads the vector and builds Bob's stores from his keys.
func libsignalBob(t *testing.T) (libsignalSession, *memstore.Store, protocol.Address, protocol.Address) {
	var v libsignalSession
	testvec.Load(t, "testdata/libsignal_first_messages.json", &v)
	priv := func(s string) curve.PrivateKey {
		p, err := curve.ParsePrivateKey(mustHex(t, s))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	ik := identity.FromPrivate(priv(v.Bob.IdentityPrivate))
	st := memstore.New(ik, v.Bob.RegistrationID)
	st.StoreSignedPreKey(prekey.SignedPreKey{ID: v.Bob.SignedPreKeyID, KeyPair: curve.NewKeyPair(priv(v.Bob.SignedPreKeyPriv))})
	st.StorePreKey(prekey.PreKey{ID: v.Bob.OneTimePreKeyID, KeyPair: curve.NewKeyPair(priv(v.Bob.OneTimePriv))})
	sk, err := kem.ParseSecretKey(append([]byte{kem.TypeKyber1024}, mustHex(t, v.Bob.KyberSeed)...))
	if err != nil {
		t.Fatal(err)
	}
	st.StoreKyberPreKey(prekey.KyberPreKey{ID: v.Bob.KyberPreKeyID, KeyPair: kem.KeyPair{Public: sk.PublicKey(), Secret: sk}})
	alice := protocol.Address{Name: v.Alice.Name, DeviceID: v.Alice.DeviceID}
	bob := protocol.Address{Name: v.Bob.Name, DeviceID: v.Bob.DeviceID}
	return v, st, alice, bob
}

// TestLibsignalFirstMessages decrypts, out of order, three PreKey messages
// libsignal 0.103.0 produced (PQXDH with a one-time prekey, SPQR Hdr
// chunks, the addresses field), and checks that re-encoding each parsed
// message gives libsignal's bytes exactly.
func TestLibsignalFirstMessages(t *testing.T) {
	v, st, alice, bob := libsignalBob(t)
	for _, i := range []int{1, 0, 2} {
		m := v.Messages[i]
		raw := mustHex(t, m.Ciphertext)
		pm, err := message.ParsePreKeySignalMessage(raw)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !bytes.Equal(pm.Encode(), raw) {
			t.Errorf("message %d: re-encoding differs from libsignal's bytes", i)
		}
		if hex.EncodeToString(pm.IdentityKey.Bytes()) != v.Alice.IdentityKey || pm.RegistrationID != v.Alice.RegistrationID {
			t.Errorf("message %d: sender identity or registration ID differ", i)
		}
		want := append(append([]byte{0}, mustHex(t, "aaaaaaaaaaaa4aaa8aaaaaaaaaaaaaaa")...), 3)
		want = append(append(append(want, 0), mustHex(t, "bbbbbbbbbbbb4bbb8bbbbbbbbbbbbbbb")...), 2)
		if !bytes.Equal(pm.Message.Addresses, want) {
			t.Errorf("message %d: addresses %x", i, pm.Message.Addresses)
		}
		pt, err := protocol.Decrypt(ctx, st.Stores(), bob, alice, protocol.Ciphertext{Type: protocol.MessageType(m.Type), Bytes: raw})
		if err != nil || string(pt) != m.Plaintext {
			t.Fatalf("message %d: %q, %v", i, pt, err)
		}
	}
	if st.PreKeyCount() != 0 {
		t.Error("the one-time prekey was not consumed")
	}
	// Each again: duplicates.
	for i, m := range v.Messages {
		_, err := protocol.Decrypt(ctx, st.Stores(), bob, alice, protocol.Ciphertext{Type: protocol.TypePreKey, Bytes: mustHex(t, m.Ciphertext)})
		if !errorsIs(err, protocol.ErrDuplicateMessage) {
			t.Errorf("message %d again: %v", i, err)
		}
	}
}
