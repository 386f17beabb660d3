package store

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// sealedRows returns the sealed bytes stored for message id: its row, its key
// row and the rows of queued items that carry it.
func sealedRows(t testing.TB, s *Store, id int64) [][]byte {
	t.Helper()
	var out [][]byte
	for _, q := range []string{
		`SELECT v FROM messages WHERE id = ?`,
		`SELECT v FROM message_keys WHERE id = ?`,
		`SELECT v FROM outbox WHERE msg = ?`,
	} {
		rows, err := s.db.Query(q, id)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v []byte
			rows.Scan(&v)
			out = append(out, v)
		}
		rows.Close()
	}
	return out
}

// messageKeyOf returns the per-message key of message id.
func messageKeyOf(t testing.TB, s *Store, id int64) []byte {
	t.Helper()
	var key []byte
	err := s.View(func(tx *Tx) error {
		_, mk, _, err := tx.loadMessage(id)
		key = bytes.Clone(mk.Key[:])
		mk.Key.Zero()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// TestAcceptance21DisappearingMessagesLeaveNoTrace is acceptance test 21:
// messages holding a random canary, with a 5 s timer on a fake clock, expire;
// after close no file in the store directory (database, WAL, journals, key
// file, anything else) holds the canary, the contact's ID, the message keys
// or even the sealed rows. A message without a timer is still readable after
// reopening.
func TestAcceptance21DisappearingMessagesLeaveNoTrace(t *testing.T) {
	for _, size := range []int{100, 20000} { // in-page rows and overflow pages
		t.Run(fmt.Sprintf("%d-byte-bodies", size), func(t *testing.T) {
			dir, s := newTestStore(t, Options{})
			contact := "SKY" + canary(t)[7:]
			gone, kept := canary(t), canary(t)
			body := func(c string) Secret { return Secret(c + strings.Repeat(".", size-len(c))) }
			timer := 5 * time.Second

			update(t, s, func(tx *Tx) error {
				return tx.PutContact(Contact{ID: contact, Name: "Contact", AddedAt: t0})
			})
			sent := addMessage(t, s, Message{Conversation: contact, Sender: "me", Outgoing: true, State: Sent, Body: body(gone), SentAt: t0, Timer: timer})
			recv := addMessage(t, s, Message{Conversation: contact, Sender: contact, MessageID: "mid-" + gone, State: Received, Body: body(gone), SentAt: t0, Timer: timer})
			stay := addMessage(t, s, Message{Conversation: contact, Sender: contact, State: Received, Body: body(kept), SentAt: t0})
			update(t, s, func(tx *Tx) error {
				if _, err := tx.MarkRead(recv.ID, t0); err != nil {
					return err
				}
				if _, err := tx.MarkSeen(contact+"/mid-"+gone, t0); err != nil {
					return err
				}
				return tx.Enqueue(&Outgoing{To: contact, MessageRef: sent.ID, Payload: Secret("envelope " + gone), CreatedAt: t0})
			})

			needles := map[string][]byte{
				"canary":         []byte(gone),
				"contact ID":     []byte(contact),
				"key of sent":    messageKeyOf(t, s, sent.ID),
				"key of read":    messageKeyOf(t, s, recv.ID),
				"kept plaintext": []byte(kept),
			}
			for i, v := range append(sealedRows(t, s, sent.ID), sealedRows(t, s, recv.ID)...) {
				needles["sealed row "+string(rune('a'+i))] = v[len(v)-32:] // tail of the ciphertext and tag
			}
			// Encrypted at rest from the start: no plaintext, no ID, no key.
			for _, name := range []string{"canary", "contact ID", "key of sent", "key of read", "kept plaintext"} {
				if f := scan(t, dir, map[string][]byte{name: needles[name]}); len(f) > 0 {
					t.Fatalf("before expiry, %s found in %v", name, f[name])
				}
			}

			// The envelope is sent (a queued one holds its message back
			// from expiry: TestUnsentMessageOutlivesItsTimer).
			update(t, s, func(tx *Tx) error {
				q, err := tx.Outbox()
				if err != nil || len(q) != 1 {
					return fmt.Errorf("outbox %v, %v", q, err)
				}
				return tx.Dequeue(q[0].ID)
			})
			res, err := s.Expire(t0.Add(timer))
			if err != nil {
				t.Fatal(err)
			}
			if res.Deleted != 2 || !res.Next.IsZero() {
				t.Fatalf("Expire = %+v, want 2 deleted and nothing scheduled", res)
			}
			delete(needles, "kept plaintext")
			// Already clean while the store is open (as after a crash here):
			// the expiry checkpointed the WAL itself.
			if found := scan(t, dir, needles); len(found) > 0 {
				t.Fatalf("after expiry, before close, found %v (files: %v)", found, files(t, dir))
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if found := scan(t, dir, needles); len(found) > 0 {
				t.Fatalf("after expiry and close, found %v (files: %v)", found, files(t, dir))
			}
			for _, f := range files(t, dir) {
				if f != keyName && f != dbName && f != dbName+"-wal" {
					t.Errorf("unexpected file %s in the store directory", f)
				}
			}

			s = reopen(t, dir)
			m, err := getMessage(t, s, stay.ID)
			if err != nil || string(m.Body) != string(body(kept)) {
				t.Fatalf("message without timer after reopen: %v", err)
			}
			s.View(func(tx *Tx) error {
				ms, err := tx.Messages(contact, 0, 0)
				if err != nil || len(ms) != 1 {
					t.Errorf("history after expiry: %d messages, %v", len(ms), err)
				}
				q, _ := tx.Outbox()
				if len(q) != 0 {
					t.Errorf("queued item of an expired message survived")
				}
				// The dedupe record outlives the message, so a replay stays out.
				if seen, _ := tx.Seen(contact + "/mid-" + gone); !seen {
					t.Error("dedupe entry of an expired message was dropped")
				}
				return nil
			})
		})
	}
}
