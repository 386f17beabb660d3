package sealed

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/skymsg/sky/protocol/internal/errs"
)

// TestOpenerRemembersOnlyAuthenticatedSenders: an Opener opens v1 and v2
// envelopes as Open does, remembers the sender's static agreement only once
// an envelope authenticated (a tampered one leaves nothing behind), opens
// the next envelopes with the remembered agreement, still refuses every
// tampered envelope, and forgets everything on Wipe.
func TestOpenerRemembersOnlyAuthenticatedSenders(t *testing.T) {
	w := newWorld(t)
	o := NewOpener(w.bob)
	env := w.seal(t, &Content{Type: TypeWhisper, Sender: w.aliceCert, Message: []byte("one")})
	bad := bytes.Clone(env)
	bad[len(bad)-1] ^= 1 // the content's MAC
	if _, err := o.Open(bad); !errors.Is(err, errs.InvalidMessage) {
		t.Fatalf("tampered envelope: %v", err)
	}
	if n := len(o.cache.shared); n != 0 {
		t.Fatalf("a tampered envelope left %d agreements behind", n)
	}
	for i := range 3 {
		msg := fmt.Sprint("message ", i)
		c, err := o.Open(w.seal(t, &Content{Type: TypeWhisper, Sender: w.aliceCert, Message: []byte(msg)}))
		if err != nil || string(c.Message) != msg {
			t.Fatalf("envelope %d: %v", i, err)
		}
		if len(o.cache.shared) != 1 {
			t.Fatalf("remembered %d agreements after %d envelopes from one sender", len(o.cache.shared), i+1)
		}
	}
	// With the agreement remembered, tampering is refused all the same.
	for i := range env {
		bad := bytes.Clone(env)
		bad[i] ^= 0x40
		if i == 0 && bad[0]>>4 <= 1 {
			continue
		}
		if _, err := o.Open(bad); !errors.Is(err, errs.InvalidMessage) {
			t.Fatalf("byte %d altered, agreement remembered: %v", i, err)
		}
	}
	// A v2 ReceivedMessage from the same sender: opens, and remembers by the same key.
	ps := v2Parties(t, 1)
	o2 := NewOpener(ps[0].key)
	sent, err := EncryptMulti(&Content{Type: TypeSenderKey, Sender: w.aliceCert, Message: []byte("to many")}, w.alice, multiRecipients(ps), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseSentMessage(sent, 1)
	if err != nil {
		t.Fatal(err)
	}
	rm := m.Received(&m.Recipients[0])
	for range 2 {
		if c, err := o2.Open(rm); err != nil || string(c.Message) != "to many" {
			t.Fatalf("v2 with an Opener: %v", err)
		}
	}
	bad = bytes.Clone(rm)
	bad[len(bad)-1] ^= 1
	if _, err := o2.Open(bad); !errors.Is(err, errs.InvalidMessage) {
		t.Fatalf("tampered v2 message, agreement remembered: %v", err)
	}
	o.Wipe()
	if len(o.cache.shared) != 0 {
		t.Fatal("Wipe left agreements")
	}
	if s := fmt.Sprintf("%v %+v %#v", o, o, o); bytes.Contains([]byte(s), []byte("shared")) {
		t.Fatalf("an Opener prints its contents: %s", s)
	}
}

// BenchmarkOpenerOpen is a steady stream of v1 envelopes from one sender
// opened by an Opener: one X25519 each instead of Open's two.
func BenchmarkOpenerOpen(b *testing.B) {
	w := newWorld(b)
	env := w.seal(b, &Content{Type: TypeWhisper, Sender: w.aliceCert, Message: make([]byte, 200)})
	o := NewOpener(w.bob)
	for b.Loop() {
		if _, err := o.Open(env); err != nil {
			b.Fatal(err)
		}
	}
}
