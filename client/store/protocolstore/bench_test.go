package protocolstore

import (
	"fmt"
	"testing"

	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
)

// BenchmarkReceive is the cost of one received 100-byte message on an
// established session, with persistence: decrypt (ratchet step), save the
// session, mark the ID seen and store the message, in one durable
// transaction.
func BenchmarkReceive(b *testing.B) {
	t := b
	alice, bob := newDevice(t, "alice"), newDevice(t, "bob")
	if err := alice.start(t, bob.bundle(t, true, false), bob); err != nil {
		b.Fatal(err)
	}
	bob.mustReceive(t, alice, alice.encrypt(t, bob, "hello"), "hello")
	alice.mustReceive(t, bob, bob.encrypt(t, alice, "reply"), "reply")
	text := string(make([]byte, 100))
	var cts []protocol.Ciphertext
	i := 0
	for b.Loop() {
		if len(cts) == 0 {
			b.StopTimer()
			for range 1024 {
				cts = append(cts, alice.encrypt(t, bob, text))
			}
			b.StartTimer()
		}
		c := cts[0]
		cts = cts[1:]
		i++
		err := bob.st.Update(func(tx *store.Tx) error {
			if fresh, err := tx.MarkSeen(fmt.Sprint("alice/", i), t0); err != nil || !fresh {
				return fmt.Errorf("dedupe: %v", err)
			}
			pt, err := protocol.Decrypt(ctx, New(tx, t0).Stores(), bob.addr, alice.addr, c)
			if err != nil {
				return err
			}
			return tx.AddMessage(&store.Message{Conversation: "alice", Sender: "alice", Body: store.Secret(pt), SentAt: t0})
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
