package store

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/skymsg/sky/client/store/keyfile"
)

// BenchmarkOpen is the timing half of acceptance test 22(c): a whole unlock
// with the Default Argon2id parameters for the real, the panic and a wrong
// passphrase. The three differ only by what follows the derivation (opening
// the database, erasing the store, counting a failure).
func BenchmarkOpen(b *testing.B) {
	for _, tc := range []struct {
		name  string
		pass  []byte
		fresh bool // the panic unlock erases the store, so each needs its own
	}{{"real", pass, false}, {"panic", panicPass, true}, {"wrong", []byte("wrong"), false}} {
		b.Run(tc.name, func(b *testing.B) {
			mk := func() string {
				dir := filepath.Join(b.TempDir(), "home")
				s, err := Create(dir, pass, Options{KDF: keyfile.Default})
				if err != nil {
					b.Fatal(err)
				}
				fill(b, s)
				if err := s.SetPanic(panicPass, true); err != nil {
					b.Fatal(err)
				}
				s.Close()
				return dir
			}
			dir := mk()
			for b.Loop() {
				if tc.fresh {
					b.StopTimer()
					dir = mk()
					b.StartTimer()
				}
				s, _ := Open(dir, tc.pass)
				if s != nil {
					s.Close()
				}
			}
		})
	}
}

// BenchmarkAddMessage stores one received message per transaction, durably
// (synchronous=FULL): the message, its dedupe entry.
func BenchmarkAddMessage(b *testing.B) {
	_, s := newTestStore(b, Options{})
	body := Secret(make([]byte, 200))
	i := 0
	for b.Loop() {
		i++
		err := s.Update(func(tx *Tx) error {
			if _, err := tx.MarkSeen(fmt.Sprint("bob/", i), t0); err != nil {
				return err
			}
			return tx.AddMessage(&Message{Conversation: "bob-id", Sender: "bob-id", MessageID: fmt.Sprint(i), State: Received, Body: body, SentAt: t0, Timer: time.Hour})
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReceiveWithSession is the store's share of receiving a message:
// dedupe entry, ratcheted session record (whose old version is scrubbed by a
// WAL checkpoint) and the message, in one durable transaction.
func BenchmarkReceiveWithSession(b *testing.B) {
	_, s := newTestStore(b, Options{})
	body := Secret(make([]byte, 200))
	session := make([]byte, 2000)
	i := 0
	for b.Loop() {
		i++
		err := s.Update(func(tx *Tx) error {
			if _, err := tx.MarkSeen(fmt.Sprint("bob/", i), t0); err != nil {
				return err
			}
			if err := tx.PutSession(Address{"bob-id", 1}, session); err != nil {
				return err
			}
			return tx.AddMessage(&Message{Conversation: "bob-id", Sender: "bob-id", MessageID: fmt.Sprint(i), State: Received, Body: body, SentAt: t0})
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetMessage reads one message back (key row, then message row).
func BenchmarkGetMessage(b *testing.B) {
	_, s := newTestStore(b, Options{})
	m := addMessage(b, s, Message{Conversation: "bob-id", Body: Secret(make([]byte, 200)), SentAt: t0})
	for b.Loop() {
		if _, err := getMessage(b, s, m.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExpire1000 destroys 1,000 expired messages in one sweep
// (including the WAL checkpoint).
func BenchmarkExpire1000(b *testing.B) {
	_, s := newTestStore(b, Options{})
	body := Secret(make([]byte, 200))
	for b.Loop() {
		b.StopTimer()
		update(b, s, func(tx *Tx) error {
			for i := range 1000 {
				m := Message{Conversation: fmt.Sprint("peer-", i%10), Outgoing: true, Body: body, SentAt: t0, Timer: 5 * time.Second}
				if err := tx.AddMessage(&m); err != nil {
					return err
				}
			}
			return nil
		})
		b.StartTimer()
		res, err := s.Expire(t0.Add(5 * time.Second))
		if err != nil || res.Deleted != 1000 {
			b.Fatalf("%+v, %v", res, err)
		}
	}
}
