package client_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/client/store/keyfile"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/store/sqlite"
)

// Two people talk through a real skyd on a loopback port: Alice registers
// and writes to Bob; Bob's client shows the message as a request, he
// accepts and answers.
func Example() {
	ctx := context.Background()
	tmp, _ := os.MkdirTemp("", "sky-example")
	defer os.RemoveAll(tmp)

	// A skyd with two activation codes, certified by the operator's
	// trust root (whose public key the operator hands out with the codes).
	st, _ := sqlite.Open(ctx, filepath.Join(tmp, "skyd.db"))
	defer st.Close()
	trust := sealed.GenerateTrustRoot()
	server.Certify(ctx, st, trust, 0)
	root, _ := client.ParseTrustRoot(base64.StdEncoding.EncodeToString(trust.Public().Bytes()))
	srv, _ := server.New(ctx, server.Config{Store: st})
	defer srv.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.HTTPServer().Serve(ln)
	codes, _ := server.CreateCodes(ctx, st, 2, 90*24*time.Hour, time.Now().Add(time.Hour))
	url := "ws://" + ln.Addr().String()

	// Examples use a cheap KDF; real accounts keep the default.
	opts := client.Options{KDF: keyfile.Params{Time: 1, MemoryKiB: 64, Threads: 1}}
	alice, err := client.Register(ctx, filepath.Join(tmp, "alice"), []byte("alice's passphrase"), url, root, codes[0], opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer alice.Close()
	bob, _ := client.Register(ctx, filepath.Join(tmp, "bob"), []byte("bob's passphrase"), url, root, codes[1], opts)
	defer bob.Close()
	events := bob.Subscribe()
	go alice.Run(ctx)
	go bob.Run(ctx)

	alice.Send(bob.ID(), "Hello Bob, it's Alice.")
	for ev := range events.Events() {
		if m, ok := ev.(*client.MessageEvent); ok {
			fmt.Printf("request: %v, from Alice: %v, text: %s\n", m.Message.Request, m.Message.From == alice.ID(), m.Message.Text)
			break
		}
	}
	bob.Accept(alice.ID())
	bob.Send(alice.ID(), "Hi Alice!")
	flush, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	fmt.Println(bob.Flush(flush))
	// Output:
	// request: true, from Alice: true, text: Hello Bob, it's Alice.
	// <nil>
}

// Opening an account: a wrong passphrase, no account, or the panic
// passphrase (which looks exactly like no account).
func ExampleOpen() {
	c, err := client.Open(context.Background(), "/home/user/.local/share/sky", []byte("passphrase"), client.Options{})
	switch {
	case errors.Is(err, client.ErrNoAccount):
		fmt.Println("no account here; create one with sky init")
		return
	case errors.Is(err, client.ErrWrongPassphrase):
		fmt.Println(err)
		return
	case err != nil:
		fmt.Println("cannot open:", err)
		return
	}
	defer c.Close()
	go c.Run(context.Background()) // connect, and reconnect with backoff
}

// Receiving: subscribe before connecting, show what is unread, then follow
// events; messages are shown once, in each sender's order.
func ExampleClient_Subscribe() {
	var c *client.Client // from Open
	sub := c.Subscribe()
	defer sub.Close()
	go c.Run(context.Background())
	unread, _ := c.Unread()
	for _, m := range unread {
		fmt.Println(m.From, m.Text)
		c.MarkRead(m.LocalID) // starts the recipient's disappearing timer
	}
	for ev := range sub.Events() {
		switch e := ev.(type) {
		case *client.MessageEvent:
			fmt.Println(e.Message.From, e.Message.Text, "request:", e.Message.Request)
		case *client.IdentityChangedEvent:
			fmt.Println(e.Peer, "has a new key: compare safety numbers before accepting it")
		case *client.LaggedEvent:
			// missed some: read c.Unread() again
		}
	}
}

// Sending works offline too: the message is queued and goes out when the
// client is connected. Flush waits for the outbox.
func ExampleClient_Send() {
	var c *client.Client // from Open, with Run running
	m, err := c.Send("mnpqrstuvw", "see you at 8")
	var changed *client.IdentityChangedError
	switch {
	case errors.As(err, &changed):
		fmt.Println(err) // says how to re-verify
		return
	case err != nil:
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Flush(ctx); errors.Is(err, client.ErrOffline) {
		fmt.Println("queued:", m.ID)
	}
}

// Verifying a contact: compare the 60 digits (or scan the QR code) in
// person, then mark them verified. A later change of their key blocks
// sending until the user verifies again.
func ExampleClient_Verify() {
	var c *client.Client
	sn, err := c.SafetyNumber("mnpqrstuvw")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sn.Groups()) // read these out; sn.Scannable is the QR code
	if sn.Changed {
		fmt.Println("their key changed: only confirm if the numbers match in person")
	}
	// Only once the numbers matched: confirm the number compared (if the
	// key changed meanwhile, Verify refuses with ErrSafetyNumberChanged).
	c.Verify(context.Background(), "mnpqrstuvw", sn.Digits)
}

// Disappearing messages: a conversation's timer, and the default for new
// conversations.
func ExampleClient_SetTimer() {
	var c *client.Client
	c.SetTimer("mnpqrstuvw", 5*time.Minute) // both sides see the change
	c.SetDefaultTimer(0)                    // new conversations: off
}

// A panic passphrase that also deletes the account on the server.
func ExampleClient_SetPanic() {
	var c *client.Client
	if err := c.SetPanic([]byte("a duress passphrase"), true); err != nil {
		fmt.Println(err)
	}
}
