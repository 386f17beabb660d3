package authenticator

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/skymsg/sky/internal/testvec"
)

type vectors struct {
	AuthKey, Initial testvec.Hex
	Updates          []struct {
		Epoch                 uint64
		Before, Secret, After testvec.Hex
	}
	HeaderMACs, CiphertextMACs []struct {
		Epoch           uint64
		Keys, Data, MAC testvec.Hex
	}
}

func load(t *testing.T) vectors {
	var v vectors
	testvec.Load(t, "testdata/libsignal.json", &v)
	if len(v.Updates) == 0 || len(v.HeaderMACs) == 0 || len(v.CiphertextMACs) == 0 {
		t.Fatal("vectors missing")
	}
	return v
}

func keys(t *testing.T, b []byte) Authenticator {
	var a Authenticator
	if err := a.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestLibsignalVectors checks key derivation, updates and both MACs against
// values libsignal computed.
func TestLibsignalVectors(t *testing.T) {
	v := load(t)
	a := New(v.AuthKey, 1)
	if got, _ := a.MarshalBinary(); !bytes.Equal(got, v.Initial) {
		t.Fatalf("initial keys differ:\n got %x\nwant %x", got, v.Initial)
	}
	for _, u := range v.Updates {
		a := keys(t, u.Before)
		a.Update(u.Epoch, u.Secret)
		if got, _ := a.MarshalBinary(); !bytes.Equal(got, u.After) {
			t.Errorf("update in epoch %d differs", u.Epoch)
		}
	}
	for _, m := range v.HeaderMACs {
		a := keys(t, m.Keys)
		if got := a.HeaderMAC(m.Epoch, m.Data); !bytes.Equal(got[:], m.MAC) {
			t.Errorf("header MAC in epoch %d differs", m.Epoch)
		}
		if err := a.VerifyHeader(m.Epoch, m.Data, m.MAC); err != nil {
			t.Error(err)
		}
		if err := a.VerifyHeader(m.Epoch+1, m.Data, m.MAC); !errors.Is(err, ErrHeaderMAC) {
			t.Errorf("header MAC verified for another epoch: %v", err)
		}
		if err := a.VerifyCiphertext(m.Epoch, m.Data, m.MAC); !errors.Is(err, ErrCiphertextMAC) {
			t.Errorf("header MAC verified as a ciphertext MAC: %v", err)
		}
	}
	for _, m := range v.CiphertextMACs {
		a := keys(t, m.Keys)
		if got := a.CiphertextMAC(m.Epoch, m.Data); !bytes.Equal(got[:], m.MAC) {
			t.Errorf("ciphertext MAC in epoch %d differs", m.Epoch)
		}
		bad := bytes.Clone(m.Data)
		bad[len(bad)-1] ^= 1
		if err := a.VerifyCiphertext(m.Epoch, bad, m.MAC); !errors.Is(err, ErrCiphertextMAC) {
			t.Errorf("MAC of altered ciphertext verified: %v", err)
		}
		if err := a.VerifyCiphertext(m.Epoch, m.Data, m.MAC[:31]); !errors.Is(err, ErrCiphertextMAC) {
			t.Errorf("truncated MAC verified: %v", err)
		}
	}
}

// TestUnmarshal checks that only 64-byte states are accepted.
func TestUnmarshal(t *testing.T) {
	var a Authenticator
	for _, n := range []int{0, 63, 65} {
		if err := a.UnmarshalBinary(make([]byte, n)); !errors.Is(err, ErrState) {
			t.Errorf("%d bytes: %v", n, err)
		}
	}
}

// TestRedacts checks that no fmt verb prints the keys.
func TestRedacts(t *testing.T) {
	a := New([]byte{0xaa, 0xbb}, 1)
	k, _ := a.MarshalBinary()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		for _, arg := range []any{a, &a} {
			s := fmt.Sprintf(verb, arg)
			if !strings.Contains(s, "redacted") || strings.Contains(s, hex.EncodeToString(k[:3])) {
				t.Errorf("%s printed %q", verb, s)
			}
		}
	}
}
