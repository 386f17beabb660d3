package store_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/skymsg/sky/client/store"
)

// The SDK's unlock: a store, a wrong passphrase, or a panic wipe that must
// look like a fresh install.
func ExampleOpen() {
	s, err := store.Open("/home/user/.local/share/sky/store", []byte("passphrase from the terminal"))
	var wiped *store.WipedError
	switch {
	case errors.As(err, &wiped):
		if wiped.DeleteAccount && wiped.Account != nil {
			// delete the account on wiped.Account.Server with its credential
		}
		fmt.Println("no account here; run sky init") // exactly as on a fresh install
		return
	case errors.Is(err, store.ErrWrongPassphrase), errors.Is(err, store.ErrNoStore):
		fmt.Println(err)
		return
	case err != nil:
		fmt.Println("cannot open the store:", err)
		return
	}
	defer s.Close()
	// ... use s
}

// Receiving a message: dedupe, session and message in one durable
// transaction, before the server is acknowledged.
func ExampleStore_Update() {
	var s *store.Store // from store.Open
	now := time.Now()
	var shown bool
	err := s.Update(func(tx *store.Tx) error {
		fresh, err := tx.MarkSeen("bob-id/msg-123", now)
		if err != nil || !fresh {
			return err // a duplicate: acknowledge it, show nothing
		}
		if err := tx.PutSession(store.Address{Name: "bob-id", Device: 1}, []byte("ratcheted session")); err != nil {
			return err
		}
		conv, err := tx.Conversation("bob-id")
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		shown = true
		return tx.AddMessage(&store.Message{
			Conversation: "bob-id", Sender: "bob-id", MessageID: "msg-123", State: store.Received,
			Body: store.Secret("hello"), SentAt: now, ReceivedAt: now, Timer: conv.Timer,
		})
	})
	_, _ = shown, err // acknowledge to the server only after err == nil
}

// The disappearing-messages loop of the SDK.
func ExampleStore_Expire() {
	var s *store.Store // from store.Open
	for {
		res, err := s.Expire(time.Now())
		if err != nil {
			return
		}
		wait := time.Minute
		if !res.Next.IsZero() {
			wait = time.Until(res.Next)
		}
		time.Sleep(wait) // or until a new expiry is set
	}
}
