package client

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/wire"
)

// sendLog records every Send a client makes through the evil proxy: on
// which connection (the authenticated account, "" for one that never
// authenticated), with a token or as a sealed request, and how large.
type sendLog struct {
	mu     sync.Mutex
	sends  []loggedSend
	multis int // MultiSend requests seen
}

type loggedSend struct {
	conn, to   string
	token      bool
	sealed     bool
	size       int
	identified bool // neither token nor sealed: the sender is stored
	multi      int  // a copy of the multi-recipient send numbered so (from 1); 0: a Send
	access     bool // an access request (askaccess.go)
}

func (l *sendLog) toServer(acct string, f *wire.Frame) []*wire.Frame {
	if s := f.GetRequest().GetSend(); s != nil {
		l.mu.Lock()
		l.sends = append(l.sends, loggedSend{conn: acct, to: s.GetAccount(), token: len(s.GetDeliveryToken()) > 0, sealed: s.GetSealed(),
			size: len(s.GetContent()), identified: len(s.GetDeliveryToken()) == 0 && !s.GetSealed()})
		l.mu.Unlock()
	}
	if s := f.GetRequest().GetAccessRequest(); s != nil {
		l.mu.Lock()
		l.sends = append(l.sends, loggedSend{conn: acct, to: s.GetAccount(), size: len(s.GetContent()), access: true})
		l.mu.Unlock()
	}
	if ms := f.GetRequest().GetMultiSend(); ms != nil {
		m, err := sealed.ParseSentMessage(ms.GetMessage(), wire.MaxMultiRecipients)
		l.mu.Lock()
		l.multis++
		for i := range m.Recipients {
			if err != nil {
				break
			}
			to, _ := wire.ServiceIDAccount(m.Recipients[i].ServiceID)
			l.sends = append(l.sends, loggedSend{conn: acct, to: to, token: i < len(ms.GetDeliveryTokens()), size: len(m.Received(&m.Recipients[i])), multi: l.multis})
		}
		l.mu.Unlock()
	}
	return []*wire.Frame{f}
}

func (l *sendLog) take() []loggedSend {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.sends
	l.sends = nil
	return out
}

// TestSealedDelivery: a first message goes as a sealed request on the
// sender's own connection; the recipient's reply, and everything after,
// goes with the recipient's delivery token on connections that never
// authenticate. Every envelope is padded to a sealed size and pushed with no
// sender. Removing a contact rotates the access key: the former contact's
// token stops working, the former contact is told, and its next message is
// a request again once they choose to send it as one.
func TestSealedDelivery(t *testing.T) {
	s := startSkyd(t)
	ev := startEvil(t, s)
	var log sendLog
	var pushMu sync.Mutex
	var pushedWithSender, pushedOutsideBuckets int
	ev.set(func(acct string, f *wire.Frame) []*wire.Frame {
		pushMu.Lock()
		defer pushMu.Unlock()
		for _, e := range pushed(f) {
			if len(e.ProtoReflect().GetUnknown()) != 0 {
				pushedWithSender++ // such as a sender, the removed field 3
			}
			if !wire.IsSealedSize(len(e.GetContent())) {
				pushedOutsideBuckets++
			}
		}
		return []*wire.Frame{f}
	}, log.toServer)
	alice := newUserAt(t, s, ev.url(), testOptions(nil))
	bob := newUserAt(t, s, ev.url(), testOptions(nil))
	a, b := alice.c.ID(), bob.c.ID()

	alice.send(b, "hello bob")
	texts(t, bob, 1)
	got := log.take()
	if len(got) != 1 || got[0].conn != a || !got[0].sealed || got[0].token || got[0].to != b {
		t.Fatalf("first contact sent as %+v, want one sealed request on Alice's connection", got)
	}
	if err := bob.c.Accept(a); err != nil {
		t.Fatal(err)
	}
	bob.send(a, "hi alice, a long answer: "+strings.Repeat("x", 3000))
	texts(t, alice, 1)
	alice.send(b, "now with your token")
	texts(t, bob, 1)
	alice.flush()
	bob.flush()
	for _, snd := range log.take() {
		if snd.conn != "" || !snd.token || snd.sealed || snd.identified {
			t.Fatalf("a send after both shared their keys: %+v, want a token on an anonymous connection", snd)
		}
		if !wire.IsSealedSize(snd.size) {
			t.Fatalf("a sealed envelope of %d bytes", snd.size)
		}
	}

	// Bob removes Alice: his access key rotates, her token is refused, and
	// her next message arrives as a request.
	if err := bob.c.RemoveContact(a); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Bob's new verifier", func() bool {
		return bob.c.core.AccessUploaded()
	})
	alice.send(b, "are we still friends?")
	// The refusal could be the server's lie: Alice is told, and her own
	// connection carries the message only once she chooses so.
	next(t, alice, func(e *AccessRefusedEvent) bool { return e.Peer == b })
	if err := alice.c.SendAsRequest(b); err != nil {
		t.Fatal(err)
	}
	if m := next(t, bob, func(e *MessageEvent) bool { return true }); !m.Message.Request || m.Message.From != a {
		t.Fatalf("after rotation shown as %+v", m.Message)
	}
	// The refused token, then (perhaps) the end-to-end ask for Bob's key on
	// an anonymous connection, then the sealed request on her own.
	sends := log.take()
	last := sends[len(sends)-1]
	if len(sends) < 2 || !sends[0].token || last.conn != a || !last.sealed {
		t.Fatalf("after rotation Alice sent %+v: want the refused token, then a sealed request", sends)
	}
	for _, snd := range sends[1 : len(sends)-1] {
		if !snd.access || snd.conn != "" || snd.identified {
			t.Fatalf("after rotation Alice sent %+v: between the refused token and the request only an anonymous access request may go", sends)
		}
	}
	pushMu.Lock()
	defer pushMu.Unlock()
	if pushedWithSender != 0 || pushedOutsideBuckets != 0 {
		t.Fatalf("%d envelopes pushed with a sender, %d outside the sealed sizes", pushedWithSender, pushedOutsideBuckets)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx := ctxT(t)
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not within the timeout", what)
		default:
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTrustRootPinnedAtRegistration: registering checks the server's
// certificate against the trust root the user was given before redeeming
// the code, and leaves nothing behind when it does not match.
func TestTrustRootPinnedAtRegistration(t *testing.T) {
	s := startSkyd(t)
	code := s.code()
	dir := filepath.Join(t.TempDir(), "home")
	other := core.NewTrustRoot(sealed.GenerateTrustRoot().Public())
	if _, err := Register(ctxT(t), dir, pass, s.url(), other, code, testOptions(nil)); !errors.Is(err, ErrTrustRoot) {
		t.Fatalf("Register under another root: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("a refused registration left %s behind: %v", dir, err)
	}
	if _, err := Register(ctxT(t), dir, pass, s.url(), TrustRoot{}, code, testOptions(nil)); !errors.Is(err, ErrNoTrustRoot) {
		t.Fatalf("Register without a root: %v", err)
	}
	// The code was not spent: the right root registers with it.
	c, err := Register(ctxT(t), dir, pass, s.url(), s.root, code, testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.TrustRoot().String() != s.root.String() {
		t.Fatal("the pinned root is not the one given")
	}
	for _, in := range []string{s.root.String(), " " + s.root.String() + "\n", strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(s.root.String()), "=")} {
		if r, err := ParseTrustRoot(in); err != nil || r != s.root {
			t.Fatalf("ParseTrustRoot(%q) = %v, %v", in, r, err)
		}
	}
	for _, in := range []string{"", "not base64!", "AAAA", s.root.String()[:40]} {
		if _, err := ParseTrustRoot(in); err == nil {
			t.Fatalf("ParseTrustRoot(%q) accepted", in)
		}
	}
}

// TestServerSwapsTrustRoot: a server certified later under another root
// (a replaced or compromised server) cannot make the client use its
// certificates: sending stops with ErrServerCertificate, and sealed
// messages under the new root are not shown.
func TestServerSwapsTrustRoot(t *testing.T) {
	s := startSkyd(t)
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, testOptions(nil))
	a, b := alice.c.ID(), bob.c.ID()
	alice.send(b, "before")
	texts(t, bob, 1)

	servertest.Certify(t, s.st) // a new root the clients never saw
	s.restart()
	alice.reopen()
	alice.send(b, "after the swap")
	if err := alice.c.Flush(ctxT(t)); !errors.Is(err, ErrServerCertificate) {
		t.Fatalf("Flush after the swap: %v", err)
	}
	if n := len(alice.outbox()); n != 1 {
		t.Fatalf("%d items left in the outbox, want the one held back", n)
	}
	// Bob, who also reconnects, does not take a certificate either.
	bob.reopen()
	bob.send(a, "to alice")
	if err := bob.c.Flush(ctxT(t)); !errors.Is(err, ErrServerCertificate) {
		t.Fatalf("Bob's Flush after the swap: %v", err)
	}
}

// FuzzParseTrustRoot: whatever is typed as a trust root gives a key or an
// error, and a key prints back to itself.
func FuzzParseTrustRoot(f *testing.F) {
	f.Add("BXu6QIKVz5MA8gstzfOgRQGqyLqOwNKHL6INkv3IHWMF")
	f.Add(" BXu6QIKVz5MA8gstzfOgRQGqyLqOwNKHL6INkv3IHWMF= ")
	f.Add("BXu6QIKVz5MA8gstzfOgRQGqyLqOwNKHL6INkv3IHWMF"[:20])
	f.Add("-_-_")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseTrustRoot(s)
		if err != nil {
			return
		}
		again, err := ParseTrustRoot(r.String())
		if err != nil || again != r {
			t.Fatalf("%q parsed, but its text %q does not parse back", s, r.String())
		}
	})
}

// TestReceiptsDelayed: a receipt waits a random time (up to
// Options.ReceiptDelay) before it is sent, so the server cannot pair it
// with the message it confirms by timing; messages queued after it to the
// same person are not held up.
func TestReceiptsDelayed(t *testing.T) {
	s := startSkyd(t)
	slow := testOptions(nil)
	slow.ReceiptDelay = time.Hour
	alice := newUser(t, s, testOptions(nil))
	bob := newUser(t, s, slow)
	a, b := alice.c.ID(), bob.c.ID()
	alice.send(b, "hello")
	texts(t, bob, 1)
	if err := bob.c.Accept(a); err != nil {
		t.Fatal(err)
	}
	alice.send(b, "are you there?") // Bob is a contact now: this gets a receipt
	texts(t, bob, 1)
	sent := time.Now()
	bob.send(a, "yes")
	if got := texts(t, alice, 1); got[0] != "yes" {
		t.Fatalf("alice got %q", got)
	}
	items := bob.outbox()
	if len(items) != 1 || items[0].MessageRef != 0 {
		t.Fatalf("bob's outbox: %d items, want the waiting receipt", len(items))
	}
	it, err := core.DecodeOutItem(items[0].Payload)
	if err != nil {
		t.Fatal(err)
	}
	if it.NotBefore.Before(sent.Add(-time.Minute)) || it.NotBefore.After(sent.Add(time.Hour)) {
		t.Fatalf("the receipt may go at %v (sent %v)", it.NotBefore, sent)
	}
	select {
	case ev := <-alice.sub.Events():
		if _, ok := ev.(*ReceiptEvent); ok {
			t.Fatal("a receipt arrived at once")
		}
	case <-time.After(200 * time.Millisecond):
	}
}
