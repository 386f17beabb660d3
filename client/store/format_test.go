package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/client/store/envelope"
)

// encodings returns the ways a secret could show up in formatted output.
func encodings(b []byte) []string {
	out := []string{string(b), fmt.Sprintf("%x", b), fmt.Sprintf("%X", b), fmt.Sprint([]byte(b)), fmt.Sprintf("%q", b)}
	if len(b) >= 6 {
		out = append(out, fmt.Sprint([]byte(b[:6])), fmt.Sprintf("%x", b[:6]))
	}
	return out
}

func assertRedacted(t *testing.T, out string, secrets map[string][]byte) {
	t.Helper()
	for name, s := range secrets {
		for _, enc := range encodings(s) {
			if len(enc) >= 8 && strings.Contains(out, enc) {
				t.Fatalf("%s shows up (as %q) in %.100q", name, enc, out)
			}
		}
	}
}

// TestAcceptance23FormattingRedacts is acceptance test 23 for the store's
// types: every type that holds a secret prints no key bytes, credential or
// content with any fmt verb.
func TestAcceptance23FormattingRedacts(t *testing.T) {
	dir, s := newTestStore(t, Options{})
	c := canary(t)
	acct := Account{ID: "me", Credential: Secret("credential-" + c)}
	ident := LocalIdentity{KeyPair: Secret("keypair-" + c), RegistrationID: 7}
	msg := Message{Conversation: "bob", Body: Secret("body-" + c), SentAt: t0, Timer: time.Second, Outgoing: true}
	out := Outgoing{To: "bob", Payload: Secret("payload-" + c), CreatedAt: t0}
	update(t, s, func(tx *Tx) error {
		return errors.Join(tx.SetAccount(acct), tx.SetLocalIdentity(ident), tx.AddMessage(&msg), tx.Enqueue(&out))
	})
	if err := s.SetPanic(panicPass, true); err != nil {
		t.Fatal(err)
	}
	derived := envelope.Derive(s.dataKey)
	mkBytes := messageKeyOf(t, s, msg.ID)
	mk, _ := envelope.KeyFrom(mkBytes)
	ps, _ := func() (*panicState, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.loadPanicState() }()
	secrets := map[string][]byte{
		"data key": s.dataKey[:], "sealing key": derived.Seal[:], "index key": derived.Index[:],
		"message key": mkBytes, "panic key": ps.Key[:], "panic KEK": ps.KEK[:],
		"credential": acct.Credential, "key pair": ident.KeyPair, "body": msg.Body, "payload": out.Payload,
		"canary": []byte(c),
	}
	var tx *Tx
	s.View(func(t *Tx) error { tx = t; return nil })
	values := []any{
		Secret("keypair-" + c), acct, &acct, ident, &ident, msg, &msg, out, &out, s, tx,
		*ps, ps, messageKey{Key: mk, ExpiresAt: 5}, &WipedError{Reason: PanicPassphrase, DeleteAccount: true, Account: &acct},
		[]Message{msg}, map[string]Account{"a": acct},
	}
	for _, v := range values {
		got := fmt.Sprintf("%v %+v %#v %s %x %X %q %d", v, v, v, v, v, v, v, v)
		assertRedacted(t, got, secrets)
	}
	// A Tx prints as its type alone: formatting never reads its fields,
	// which database/sql's own goroutine writes.
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
		if got := fmt.Sprintf(verb, tx); got != "store.Tx" {
			t.Errorf("fmt %s of a Tx = %q, want store.Tx", verb, got)
		}
	}
	s.Close()

	// Errors carry no secret or content either.
	var errs []error
	_, err := Open(dir, []byte("wrong-"+c))
	errs = append(errs, err)
	s = reopen(t, dir)
	errs = append(errs,
		s.Update(func(tx *Tx) error { return tx.SetAccount(Account{ID: "x", Credential: make(Secret, 2000)}) }),
		s.Update(func(tx *Tx) error { return tx.AddMessage(&Message{Body: Secret(c)}) }),
		s.SetPanic(pass, true),
	)
	s.Close()
	_, err = Open(dir, panicPass)
	errs = append(errs, err)
	for _, err := range errs {
		if err == nil {
			t.Fatal("expected an error")
		}
		assertRedacted(t, err.Error()+fmt.Sprintf(" %v %+v %#v", err, err, err), secrets)
	}
}
