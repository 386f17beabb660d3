package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/client/store/keyfile"
)

// connectTimeout is how long a command waits for the server (receive
// --follow waits as long as it takes). A variable only so that the
// command's own tests can shorten it (SKY_TEST_CONNECT_TIMEOUT in
// main_test.go); nothing in the built program changes it.
var connectTimeout = 15 * time.Second

// waitingBackoff caps the wait between reconnection attempts while the
// user watches (receive --follow, and the daemon, web and TUI hosts): a
// server back after an outage is found within seconds, not a minute.
const waitingBackoff = 5 * time.Second

// cancelWhenUnreachable calls cancel once c is not connected and its last
// attempt could not reach the server, or when ctx ends.
func cancelWhenUnreachable(ctx context.Context, cancel func(), c *client.Client) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		var dial *conn.DialError
		if !c.Connected() && errors.As(c.LastConnError(), &dial) {
			cancel()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// testMinBackoff and testWaitingBackoff, when set, replace the first wait
// between reconnection attempts and waitingBackoff. Only the command's own
// tests set them (main_test.go, SKY_TEST_BACKOFF), so that a test of a
// server outage takes seconds; nothing in the built program can.
var testMinBackoff, testWaitingBackoff time.Duration

// watchingBackoff is the cap while the user watches: waitingBackoff, but in
// the command's own tests.
func watchingBackoff() time.Duration {
	if testWaitingBackoff > 0 {
		return testWaitingBackoff
	}
	return waitingBackoff
}

func (e *env) noAccount() error { return noAccountError{e.home} }

// noAccountError says there is no account in the home (none was made, or the
// panic passphrase erased it); it matches client.ErrNoAccount.
type noAccountError struct{ home string }

func (n noAccountError) Error() string {
	return fmt.Sprintf("there is no Sky account in %s; create one with: sky init --server URL --trust-root KEY --code CODE", n.home)
}

func (noAccountError) Unwrap() error { return client.ErrNoAccount }

// testKDF, when set, is the Argon2id cost of the stores init makes. Only
// the command's own tests set it (main_test.go), so that hundreds of unlocks
// take seconds; nothing in the built program can, so every store sky makes
// has keyfile.Default's cost.
var testKDF keyfile.Params

// options are the SDK options of the command line.
func (e *env) options() client.Options {
	// SKY_KEYDIR_AUDITOR=NAME=KEY: use only key directory heads that
	// auditor countersigned.
	o := client.Options{KDF: testKDF, KeyDirectory: client.KeyDirectoryOptions{Auditor: os.Getenv("SKY_KEYDIR_AUDITOR")}}
	o.MinBackoff = testMinBackoff
	if e.waiting {
		o.MaxBackoff = watchingBackoff()
	}
	return o
}

// open unlocks the account.
func (e *env) open() (*client.Client, error) {
	if e.shared != nil {
		return e.shared, nil
	}
	ok, err := store.Exists(storeDir(e.home))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", e.home, err)
	}
	if !ok {
		return nil, e.noAccount()
	}
	if e.daemonRunning() {
		return nil, errInUse // said before the passphrase is asked for in vain
	}
	pass, err := e.passphrase(false)
	if err != nil {
		return nil, err
	}
	return e.unlock(pass)
}

// unlock opens the account with pass. Every unlock goes through it (the
// terminal prompt, sky web's page, sky tui's screen), so a wrong passphrase,
// the wipe after N failures and the panic passphrase behave and take the
// same time whichever asked; after a panic wipe it says there is no account,
// exactly as on a fresh install.
func (e *env) unlock(pass []byte) (*client.Client, error) {
	c, err := client.Open(e.ctx, storeDir(e.home), pass, e.options())
	var wrong *store.WrongPassphraseError
	switch {
	case errors.As(err, &wrong) && wrong.AttemptsLeft >= 0:
		return nil, fmt.Errorf("wrong passphrase; %d more wrong tries erase this account", wrong.AttemptsLeft)
	case errors.Is(err, client.ErrWrongPassphrase):
		return nil, errors.New("wrong passphrase; try again")
	case errors.Is(err, client.ErrNoAccount):
		return nil, e.noAccount()
	case errors.Is(err, client.ErrLocked):
		return nil, errInUse
	case err != nil:
		return nil, fmt.Errorf("cannot open the Sky account: %w", err)
	}
	return c, nil
}

// online runs the client's connection in the background; stop ends it.
func (e *env) online(c *client.Client) (stop func()) {
	if c == e.shared {
		return func() {} // the daemon keeps it online
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() {
		c.Run(ctx)
		close(done)
	}()
	return func() {
		cancel()
		<-done
	}
}

// connect runs the connection and waits until it is up: up to
// connectTimeout, but not once an attempt to reach the server failed
// (refused, timed out, TLS), which it reports.
func (e *env) connect(c *client.Client) (stop func(), err error) {
	stop = e.online(c)
	ctx, cancel := context.WithTimeout(e.ctx, connectTimeout)
	defer cancel()
	go cancelWhenUnreachable(ctx, cancel, c)
	if err := c.WaitConnected(ctx); err != nil {
		stop()
		var dial *conn.DialError
		if last := c.LastConnError(); errors.Is(err, client.ErrNotConnected) && errors.As(last, &dial) {
			err = dial // the attempt that ended the wait
		}
		return nil, unreachable(c.Server(), err)
	}
	return stop, nil
}

// unreachable says why the server at url could not be reached: the last
// connection attempt's reason (refused, timed out, TLS, not skyd, the trust
// root), or that no attempt finished in time.
func unreachable(url string, err error) error {
	var dial *conn.DialError
	switch {
	case errors.As(err, &dial):
		return dial
	case errors.Is(err, client.ErrTrustRoot), errors.Is(err, client.ErrAuthFailed), errors.Is(err, client.ErrRevoked), errors.Is(err, client.ErrExpired):
		return err
	case err == client.ErrNotConnected: // no attempt finished in time
		return fmt.Errorf("cannot reach the Sky server at %s: timed out after %s (no answer; check the address, that skyd runs there, and your network)", url, connectTimeout)
	case errors.Is(err, client.ErrNotConnected):
		return fmt.Errorf("cannot reach the Sky server at %s: %v", url, err)
	}
	return err
}

// flush sends what is queued; offline, it says the rest stays queued. It
// waits up to connectTimeout for the server, but not once an attempt to
// reach it failed (refused, timed out, TLS): the message goes out at the
// next command, or by itself through the daemon.
func (e *env) flush(c *client.Client) error {
	ctx, cancel := context.WithTimeout(e.ctx, connectTimeout)
	defer cancel()
	go cancelWhenUnreachable(ctx, cancel, c)
	err := c.Flush(ctx)
	if errors.Is(err, client.ErrOffline) {
		why := ""
		var dial *conn.DialError
		if errors.As(err, &dial) || errors.As(c.LastConnError(), &dial) {
			why = " (" + dial.Reason + ")"
		}
		fmt.Fprintf(e.stderr, "sky: the server at %s is unreachable%s; the message is queued and goes out at the next sky receive, send or daemon\n", c.Server(), why)
		return nil
	}
	var keyWait *client.KeyDirectoryWaitError
	if errors.As(err, &keyWait) && e.ctx.Err() == nil {
		// A first message to a new account: its key is published at the
		// key directory's next head. Not a failure either.
		fmt.Fprintf(e.stderr, "sky: pending: %s\n", keyWait.Error())
		return nil
	}
	if errors.Is(err, client.ErrKeysPending) && e.ctx.Err() == nil {
		// The copy for a device just linked waits for its keys; what went
		// to the contact is sent. Not a failure.
		fmt.Fprintf(e.stderr, "sky: pending: %v\n", err)
		return nil
	}
	if (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) && e.ctx.Err() == nil {
		// Connected, but not all sent in time (a slow server or machine):
		// nothing is lost, so this is a note, not a failure.
		fmt.Fprintf(e.stderr, "sky: the server at %s has not confirmed everything within %s; what is left stays queued and goes out by itself (sky history shows each message's state)\n", c.Server(), connectTimeout)
		return nil
	}
	return err
}
