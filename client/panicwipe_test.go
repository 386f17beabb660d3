package client

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestPanicWipesAllDevices: Bob has two linked devices and sets a panic
// passphrase on the second. With the choice to wipe all devices on, typing
// it there erases that device and publishes the list signed in advance: the
// first device, off a validly signed newer list, erases itself (its home
// holds no canary, contact ID or identity key afterwards), and so does a
// third device linked after the choice was made, which was offline at the
// panic, when it next connects. With the choice off, the first device keeps
// working, also after it reconnects.
func TestPanicWipesAllDevices(t *testing.T) {
	for _, wipeAll := range []bool{true, false} {
		name := "off"
		if wipeAll {
			name = "on"
		}
		t.Run(name, func(t *testing.T) { testPanicWipesAll(t, wipeAll) })
	}
}

func testPanicWipesAll(t *testing.T, wipeAll bool) {
	s := startSkyd(t)
	opts := testOptions(nil)
	alice := newUser(t, s, opts)
	bob := newUser(t, s, opts)
	a, b := alice.c.ID(), bob.c.ID()
	canary := canaryText()
	alice.send(b, canary)
	texts(t, bob, 1)
	bob.c.Accept(a)
	bob.send(a, "reply "+canary)
	texts(t, alice, 1)
	bob2 := linkUser(t, s, bob, opts)

	duress := []byte("duress duress")
	if err := bob2.c.SetPanicOptions(duress, true, true); !errors.Is(err, ErrPanicChoices) {
		t.Fatalf("deleting the account and wiping all devices: %v, want ErrPanicChoices", err)
	}
	if err := bob2.c.SetPanicOptions(duress, false, wipeAll); err != nil {
		t.Fatal(err)
	}
	if got, err := bob2.c.PanicWipesDevices(); got != wipeAll || err != nil {
		t.Fatalf("PanicWipesDevices = %v, %v", got, err)
	}
	var bob3 *user
	if wipeAll {
		bob3 = linkUser(t, s, bob, opts)
		bob3.pause()
	}
	alicePub := alice.c.core.Local.KeyPair.Public.Bytes()
	nb, nb2 := needles(bob.c, alicePub, a, canary), needles(bob2.c, alicePub, a, canary)
	bob2.close()
	if _, err := Open(ctxT(t), bob2.dir, duress, opts); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("the panic passphrase on device 2: %v, want ErrNoAccount", err)
	}
	for _, hit := range scan(t, bob2.dir, nb2) {
		t.Errorf("the panicked device's home: %s", hit)
	}

	if !wipeAll {
		bob.reopen()
		alice.send(b, "still here")
		if got := texts(t, bob, 1); got[0] != "still here" {
			t.Fatalf("bob got %q", got)
		}
		select {
		case err := <-bob.runErr:
			t.Fatalf("device 1 stopped: %v", err)
		default:
		}
		return
	}
	select {
	case err := <-bob.runErr:
		if !errors.Is(err, ErrRemoved) {
			t.Fatalf("device 1's Run = %v, want ErrRemoved", err)
		}
		bob.stop = nil
	case <-time.After(15 * time.Second):
		t.Fatal("device 1 did not erase itself after the panic on device 2")
	}
	if _, err := Open(context.Background(), bob.dir, pass, opts); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("opening device 1's store: %v, want ErrNoAccount (erased)", err)
	}
	for _, hit := range scan(t, bob.dir, nb) {
		t.Errorf("device 1's home: %s", hit)
	}

	// The device linked after the choice, offline at the panic: erased
	// when it next connects (the signed list is 2^32 versions ahead).
	nb3 := needles(bob3.c, alicePub, a, canary)
	bob3.start2(true)
	select {
	case err := <-bob3.runErr:
		if !errors.Is(err, ErrRemoved) {
			t.Fatalf("device 3's Run = %v, want ErrRemoved", err)
		}
		bob3.stop = nil
	case <-time.After(15 * time.Second):
		t.Fatal("device 3 did not erase itself when it connected after the panic")
	}
	for _, hit := range scan(t, bob3.dir, nb3) {
		t.Errorf("device 3's home: %s", hit)
	}
}
