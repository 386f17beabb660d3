package protocol_test

import (
	"fmt"
	"testing"

	"github.com/skymsg/sky/protocol"
)

func TestBasicConversation(t *testing.T) {
	for _, oneTime := range []bool{true, false} {
		alice, bob := newDevice(t, aliceName), newDevice(t, bobName)
		alice.startSession(t, bob, oneTime)
		c := alice.encrypt(t, bob, "hello bob")
		if c.Type != protocol.TypePreKey {
			t.Fatalf("first message type %d", c.Type)
		}
		t.Logf("first message (one-time prekey %v): %d bytes for a 9-byte plaintext", oneTime, len(c.Bytes))
		bob.mustDecrypt(t, alice, c, "hello bob")
		r := bob.encrypt(t, alice, "hi alice")
		if r.Type != protocol.TypeWhisper {
			t.Fatalf("reply type %d", r.Type)
		}
		alice.mustDecrypt(t, bob, r, "hi alice")
		for i := 0; i < 20; i++ {
			m := alice.encrypt(t, bob, fmt.Sprint("a", i))
			if m.Type != protocol.TypeWhisper {
				t.Fatalf("after the reply, alice still sends type %d", m.Type)
			}
			bob.mustDecrypt(t, alice, m, fmt.Sprint("a", i))
			if i%3 == 0 {
				bob.mustDecrypt(t, alice, alice.encrypt(t, bob, "x"), "x")
				alice.mustDecrypt(t, bob, bob.encrypt(t, alice, "y"), "y")
			}
		}
	}
}
