package client

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/wire"
)

// TestTokenRefusalKeepsSealedSender (issue 10 item 6): a hostile server
// that answers an established contact's delivery token TOKEN_REJECTED does
// not make the client send on its own connection, naming itself: the key is
// kept, the user is told, the message waits, and it goes with the token
// once the contact writes again. Only the user's own choice
// (SendAsRequest) sends it as a request.
func TestTokenRefusalKeepsSealedSender(t *testing.T) {
	s := startSkyd(t)
	ev := startEvil(t, s)
	var log sendLog
	var refuse atomic.Bool
	alice := newUserAt(t, s, ev.url(), testOptions(nil))
	bob := newUserAt(t, s, ev.url(), testOptions(nil))
	a, b := alice.c.ID(), bob.c.ID()
	ev.set(nil, func(acct string, f *wire.Frame) []*wire.Frame {
		if snd := f.GetRequest().GetSend(); snd != nil && refuse.Load() && snd.GetAccount() == b && len(snd.GetDeliveryToken()) > 0 {
			// A token the real server refuses: what a hostile one answers.
			snd.DeliveryToken = make([]byte, len(snd.GetDeliveryToken()))
		}
		return log.toServer(acct, f)
	})

	alice.send(b, "hello bob")
	texts(t, bob, 1)
	bob.send(a, "hi alice") // Bob writes back: Alice has his key now
	texts(t, alice, 1)
	alice.flush()
	bob.flush()
	log.take()

	refuse.Store(true)
	alice.send(b, "while the server refuses")
	if e := next(t, alice, func(e *AccessRefusedEvent) bool { return true }); e.Peer != b {
		t.Fatalf("refusal announced for %q", e.Peer)
	}
	if err := alice.c.Flush(shortCtx(t, 2*time.Second)); !errors.Is(err, ErrAccessRefused) {
		t.Fatalf("Flush while refused: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	for _, snd := range log.take() {
		if snd.to == b && snd.conn == a {
			t.Fatalf("after the refusal Alice sent to Bob on her own connection: %+v", snd)
		}
	}
	var key []byte
	if err := alice.c.core.View(func(tx *store.Tx) (err error) { key, err = core.PeerAccessKey(tx, b); return }); err != nil || key == nil {
		t.Fatalf("Bob's access key at Alice after the refusal: %x %v", key, err)
	}
	if n := len(alice.outbox()); n != 1 {
		t.Fatalf("%d items in Alice's outbox, want the waiting message", n)
	}

	// Bob writes again, confirming his key: Alice's message goes, with the
	// token, once the server accepts it.
	refuse.Store(false)
	bob.send(a, "still here")
	texts(t, alice, 1)
	if got := texts(t, bob, 1); got[0] != "while the server refuses" {
		t.Fatalf("bob got %q", got)
	}
	alice.flush()
	for _, snd := range log.take() {
		if snd.to == b && (snd.conn != "" || !snd.token) {
			t.Fatalf("Alice sent to Bob as %+v, want a token on an anonymous connection", snd)
		}
	}

	// The user chooses to send as a request: then, and only then, Alice's
	// own connection carries it.
	refuse.Store(true)
	alice.send(b, "as a request")
	next(t, alice, func(e *AccessRefusedEvent) bool { return e.Peer == b })
	if err := alice.c.SendAsRequest(b); err != nil {
		t.Fatal(err)
	}
	if got := texts(t, bob, 1); got[0] != "as a request" {
		t.Fatalf("bob got %q", got)
	}
	sends := log.take()
	asRequest := false
	for _, snd := range sends {
		asRequest = asRequest || (snd.conn == a && snd.sealed && snd.to == b)
	}
	if !asRequest {
		t.Fatalf("after SendAsRequest Alice sent %+v, want a sealed request on her connection", sends)
	}
}

// TestRelayedKeysStayRelayed (issue 10 item 6, the group path): an access
// key a group admin relays is kept apart from the peer's own, never relayed
// further (so a member cannot launder keys it made up through others), and
// a refusal of it is not a refusal of the peer's own key: it is forgotten
// and the message goes as a first message does.
func TestRelayedKeysStayRelayed(t *testing.T) {
	s := startSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	carol := newUser(t, s, testOptions(nil))
	dave := newUser(t, s, testOptions(nil))
	a, b, c, d := alice.c.ID(), bob.c.ID(), carol.c.ID(), dave.c.ID()
	for _, u := range []*user{bob, carol} { // Alice learns their own keys
		u.send(a, "hi")
		texts(t, alice, 1)
	}
	g, err := alice.c.CreateGroup("desk", []string{b, c})
	if err != nil {
		t.Fatal(err)
	}
	groupChange(t, carol, g.ID)
	keys := func(u *user, peer string) (own, relayed bool) {
		t.Helper()
		err := u.c.core.View(func(tx *store.Tx) error {
			k, err := core.PeerAccessKey(tx, peer)
			own = k != nil
			if err == nil {
				k, err = core.SharedAccessKey(tx, peer)
				relayed = k != nil
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return own, relayed
	}
	if own, relayed := keys(carol, b); own || !relayed {
		t.Fatalf("Bob's key at Carol: own %v relayed %v, want only relayed", own, relayed)
	}
	if _, err := alice.c.SetGroupAdmin(g.ID, c, true); err != nil {
		t.Fatal(err)
	}
	waitChange(t, carol, g.ID, func(ch GroupChange) bool { return len(ch.AdminsAdded) > 0 })
	if _, err := carol.c.AddMembers(g.ID, d); err != nil {
		t.Fatal(err)
	}
	groupChange(t, dave, g.ID)
	if own, relayed := keys(dave, b); own || relayed {
		t.Fatalf("Carol relayed Bob's key (which Alice relayed to her) to Dave: own %v relayed %v", own, relayed)
	}
}
