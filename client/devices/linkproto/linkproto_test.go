package linkproto

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestLink(t *testing.T) {
	code := NewCode()
	parsed, err := ParseCode(" " + code.String()[:10] + " " + code.String()[10:])
	if err != nil || parsed != code || len(code.ID()) != 16 {
		t.Fatalf("ParseCode = %v", err)
	}
	old, nw := NewEphemeral(), NewEphemeral()
	a, err := parsed.OpenOffer(code.Offer(old))
	if err != nil || !bytes.Equal(a, old.Public()) {
		t.Fatal(err)
	}
	ans := Answer{Ephemeral: nw.Public(), AuthKey: bytes.Repeat([]byte{7}, 32), RegistrationID: 4242}
	slot1, err := parsed.SealAnswer(a, ans)
	if err != nil {
		t.Fatal(err)
	}
	got, err := code.OpenAnswer(old.Public(), slot1)
	if err != nil || got.RegistrationID != 4242 || !bytes.Equal(got.AuthKey, ans.AuthKey) {
		t.Fatalf("OpenAnswer = %+v, %v", got, err)
	}
	slot2, err := code.SealAccount(old, got, []byte("the account"))
	if err != nil {
		t.Fatal(err)
	}
	if acct, err := parsed.OpenAccount(nw, a, slot2); err != nil || string(acct) != "the account" {
		t.Fatalf("OpenAccount = %q, %v", acct, err)
	}
}

// TestLinkMITM: a server that swaps either ephemeral key, or changes the
// sealed account, is caught by the code.
func TestLinkMITM(t *testing.T) {
	code := NewCode()
	old, nw, mitm := NewEphemeral(), NewEphemeral(), NewEphemeral()
	other := NewCode()
	ans := Answer{Ephemeral: nw.Public(), AuthKey: make([]byte, 32), RegistrationID: 1}
	slot1, _ := code.SealAnswer(old.Public(), ans)
	mitmAns, _ := other.SealAnswer(old.Public(), Answer{Ephemeral: mitm.Public(), AuthKey: make([]byte, 32), RegistrationID: 1})
	slot2, _ := code.SealAccount(old, ans, []byte("acct"))
	flipped := bytes.Clone(slot2)
	flipped[len(flipped)-1] ^= 1
	for name, err := range map[string]error{
		"offer key swapped": func() error { _, err := code.OpenOffer(other.Offer(mitm)); return err }(),
		"offer key replaced in place": func() error {
			o := code.Offer(old)
			copy(o, mitm.Public())
			_, err := code.OpenOffer(o)
			return err
		}(),
		"answer MAC'd over another offer": func() error { _, err := code.OpenAnswer(mitm.Public(), slot1); return err }(),
		"answer from the server":          func() error { _, err := code.OpenAnswer(old.Public(), mitmAns); return err }(),
		"answer key replaced": func() error {
			b := bytes.Clone(slot1)
			copy(b, mitm.Public())
			_, err := code.OpenAnswer(old.Public(), b)
			return err
		}(),
	} {
		if !errors.Is(err, ErrMAC) {
			t.Errorf("%s: err = %v, want ErrMAC", name, err)
		}
	}
	if _, err := code.OpenAccount(nw, old.Public(), flipped); !errors.Is(err, ErrSealed) {
		t.Errorf("changed account: err = %v", err)
	}
	if _, err := code.OpenAccount(mitm, old.Public(), slot2); !errors.Is(err, ErrSealed) {
		t.Errorf("account opened by the server's key: err = %v", err)
	}
	for _, bad := range []string{"", "abc", code.String() + "a", "!!!!"} {
		if _, err := ParseCode(bad); !errors.Is(err, ErrCode) {
			t.Errorf("ParseCode(%q) = %v", bad, err)
		}
	}
}

func FuzzOpen(f *testing.F) {
	code := NewCode()
	old := NewEphemeral()
	f.Add(code.Offer(old))
	f.Fuzz(func(t *testing.T, b []byte) {
		code.OpenOffer(b)
		code.OpenAnswer(old.Public(), b)
		code.OpenAccount(old, old.Public(), b)
		ParseCode(string(b))
	})
}

func TestAccountRoundTrip(t *testing.T) {
	a := &Account{ID: "eeyg9rkpxq", Device: 2, IdentityKey: []byte{1, 2}, DeviceList: []byte{3}, AccessKey: []byte{4}, TrustRoot: []byte{5},
		Contacts: []Contact{{ID: "xcme6gk8ch", Name: "Bob", Upto: 7}, {ID: "4jzxnvgqth"}}, DefaultTimer: 30}
	got, err := DecodeAccount(a.Encode())
	if err != nil || got.ID != a.ID || got.Device != 2 || len(got.Contacts) != 2 || got.Contacts[0].Name != "Bob" || got.Contacts[0].Upto != 7 || got.DefaultTimer != 30 {
		t.Fatalf("DecodeAccount = %+v, %v", got, err)
	}
	for name, b := range map[string][]byte{
		"empty":     nil,
		"truncated": a.Encode()[:10],
		"device 0":  (&Account{ID: "x", IdentityKey: []byte{1}, DeviceList: []byte{1}, TrustRoot: []byte{1}}).Encode(),
	} {
		if _, err := DecodeAccount(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func FuzzDecodeAccount(f *testing.F) {
	f.Add((&Account{ID: "eeyg9rkpxq", Device: 2, IdentityKey: []byte{1}, DeviceList: []byte{3}, TrustRoot: []byte{5}, Contacts: []Contact{{ID: "a", Name: "b"}}}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeAccount(b)
		if err != nil {
			return
		}
		if _, err := DecodeAccount(a.Encode()); err != nil {
			t.Fatalf("re-encoded account does not decode: %v", err)
		}
	})
}

// TestSecretsRedacted: neither the link code nor the ephemeral key shows
// under any fmt verb (a log line or an error); only Code.String shows the code.
func TestSecretsRedacted(t *testing.T) {
	code, eph := NewCode(), NewEphemeral()
	out := fmt.Sprintf("%v %s %+v %#v %q %v %+v", code, code, code, code, code, eph, eph)
	if strings.Contains(out, code.String()) || strings.Contains(strings.ToUpper(out), strings.ToUpper(code.String())) {
		t.Fatalf("the link code shows: %s", out)
	}
	if strings.Contains(out, fmt.Sprint(eph.k.Bytes())) {
		t.Fatalf("the ephemeral key shows: %s", out)
	}
}
