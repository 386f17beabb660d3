package core

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/client/protostore"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/wire"
)

// Client is one Sky account on this device: its unlocked store and, while
// Run runs, its connection to the server. Its methods are safe for
// concurrent use.
type Core struct {
	Opts  Options
	St    *store.Store
	Local protostore.Local
	acct  store.Account
	auth  ed25519.PrivateKey

	mu          sync.Mutex
	conn        *conn.Conn // the live, authenticated connection, or nil
	connErr     error      // why the last connection attempt or connection failed
	running     bool
	closed      bool
	changed     chan struct{}     // closed and replaced whenever the outbox or connection state changes
	blocked     map[string]error  // recipients the outbox cannot send to, and why
	unblocks    map[string]uint64 // Unblocks per recipient, so a stale attempt does not block again (outbox.go)
	sendErr     error             // why nothing can be sent (expired, revoked), until the next connection
	subs        map[*Subscription]struct{}
	heldPeers   map[string]bool  // peers with messages held for a gap
	backoff     backoffCap       // the reconnection back-off's cap (backoff.go)
	keyWait     map[string]error // recipients whose key is not in the key directory yet, and its answer (keycheck.go)
	refollowing map[string]bool  // contacts whose device list is asked for again until the directory holds it (devices.go)

	// Sealed sending (sealed.go).
	root           curve.PublicKey           // the pinned trust root
	access         []byte                    // own access key (under mu)
	accessUploaded bool                      // the server has its verifier (under mu)
	cert           *sealed.SenderCertificate // the current sender certificate, or nil (under mu)
	connSince      time.Time                 // when conn was established (under mu)
	validCerts     map[string]bool           // sender certificates whose signatures checked out (under mu; certValid)
	statics        map[string]*[32]byte      // v2 static secrets by peer identity key (under mu; multisend.go)
	opener         *sealed.Opener            // opens sealed envelopes, remembering each sender's static agreement

	recv      Receiver                                            // set once, before Run (SetReceiver)
	keyCheck  KeyCheck                                            // set once, before Run (SetKeyCheck); nil: none
	groupInfo func(tx *store.Tx, group string) (GroupInfo, error) // what messages show of their group (SetGroupInfo)
	devsAdded func(tx *store.Tx, account string) error            // a contact's device list gained a device (SetDevicesAdded)
	handOff   func(tx *store.Tx) error                            // a linked device asks for the groups (SetHandOff)

	kick       chan struct{} // the outbox has new items
	expiryKick chan struct{} // a new expiry may be due sooner
	prekeyKick chan struct{} // one-time prekeys were used
	sealedKick chan struct{} // the access key changed: upload its verifier
	stop       chan struct{}
	wg         sync.WaitGroup
}

// Open unlocks the account in dir with passphrase.
//
// It returns ErrWrongPassphrase (a *store.WrongPassphraseError says how many
// tries are left), or ErrNoAccount when there is none — including right after
// the panic passphrase erased it, which looks exactly like a fresh install.
// When the user chose, on setting the panic passphrase, to delete the account
// on the server as well, Open does that first (best effort, within ctx); when
// they chose to wipe the account's other devices, it publishes the device
// list that orders them to (panicwipe.go).
func Open(ctx context.Context, dir string, passphrase []byte, opts Options) (*Core, error) {
	st, err := store.Open(dir, passphrase)
	var wiped *store.WipedError
	if errors.As(err, &wiped) {
		if wiped.WipeList != nil && wiped.Account != nil {
			publishWipeList(ctx, *wiped.Account, wiped.WipeList)
		}
		if wiped.DeleteAccount && wiped.Account != nil {
			deleteServerAccount(ctx, *wiped.Account)
		}
		return nil, ErrNoAccount
	}
	if err != nil {
		return nil, err
	}
	c, err := newClient(st, opts)
	if err != nil {
		st.Close()
		return nil, err
	}
	return c, nil
}

// deleteServerAccount deletes the account on its server after a panic wipe:
// connect, authenticate, delete. Failures are silent (the wipe already
// happened; the server's expiry of idle accounts is the fallback).
func deleteServerAccount(ctx context.Context, a store.Account) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if len(a.Credential) != ed25519.SeedSize {
		return
	}
	cn, err := conn.Dial(ctx, a.Server)
	if err != nil {
		return
	}
	defer cn.Close()
	key := ed25519.NewKeyFromSeed(a.Credential)
	if _, err := cn.Authenticate(ctx, a.ID, a.DeviceID, key); err != nil {
		return
	}
	cn.Call(ctx, &wire.Request{Op: &wire.Request_DeleteAccount{DeleteAccount: &wire.DeleteAccount{}}})
}

func newClient(st *store.Store, opts Options) (*Core, error) {
	c := &Core{Opts: opts.withDefaults(), St: st, changed: make(chan struct{}), blocked: map[string]error{},
		subs: map[*Subscription]struct{}{}, heldPeers: map[string]bool{},
		kick: make(chan struct{}, 1), expiryKick: make(chan struct{}, 1), prekeyKick: make(chan struct{}, 1), sealedKick: make(chan struct{}, 1), stop: make(chan struct{})}
	st.SetClock(c.Now) // a sent message's countdown starts by the client's clock
	err := st.View(func(tx *store.Tx) error {
		var err error
		if c.acct, err = tx.Account(); err != nil {
			return err
		}
		li, err := tx.LocalIdentity()
		if err != nil {
			return err
		}
		kp, err := identity.Parse(li.KeyPair)
		if err != nil {
			return fmt.Errorf("%w: the identity key does not parse", store.ErrCorrupt)
		}
		c.Local = protostore.Local{KeyPair: kp, RegistrationID: li.RegistrationID}
		c.opener = sealed.NewOpener(kp)
		if err := c.loadSealed(tx); err != nil {
			return err
		}
		held, err := StringList(tx, setHeldPeers)
		for _, p := range held {
			c.heldPeers[p] = true
		}
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		// a store without an account: registration never finished
		return nil, fmt.Errorf("%w (registration did not finish; remove the directory and run sky init again)", ErrNoAccount)
	}
	if err != nil {
		return nil, err
	}
	if len(c.acct.Credential) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: the device credential is damaged", store.ErrCorrupt)
	}
	c.auth = ed25519.NewKeyFromSeed(c.acct.Credential)
	// Anything overdue goes before anything is shown.
	if _, err := c.Expire(); err != nil {
		return nil, err
	}
	c.wg.Add(1)
	go c.expiryLoop()
	return c, nil
}

// Format shows only the account and the store's directory, under every fmt
// verb: a Client holds keys.
func (c *Core) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "client.Client{%s on %s, store %s}", c.acct.ID, c.acct.Server, c.St.Dir())
}

// ID returns the own Sky ID.
func (c *Core) ID() string { return c.acct.ID }

// Server returns the server's URL.
func (c *Core) Server() string { return c.acct.Server }

// Dir returns the directory of the client's store.
func (c *Core) Dir() string { return c.St.Dir() }

func (c *Core) Now() time.Time { return c.Opts.Clock.Now() }

// Close stops the connection and background work and locks the store.
func (c *Core) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.stop)
	cn := c.conn
	for s := range c.subs {
		s.close()
	}
	for _, v := range c.statics { // secrets derived from the identity key
		clear(v[:])
	}
	c.statics = nil
	if c.opener != nil {
		c.opener.Wipe()
	}
	c.mu.Unlock()
	if cn != nil {
		cn.Close()
	}
	c.wg.Wait()
	return c.St.Close()
}

// halt stops the background work but leaves the store open (for Register
// to erase it).
func (c *Core) halt() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.stop)
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// notify wakes everyone waiting for a change of the outbox or connection.
func (c *Core) Notify() {
	c.mu.Lock()
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// update runs fn in a store transaction.
func (c *Core) Update(fn func(tx *store.Tx) error) error {
	err := c.St.Update(fn)
	if errors.Is(err, store.ErrClosed) {
		return ErrClosed
	}
	return err
}

func (c *Core) View(fn func(tx *store.Tx) error) error {
	err := c.St.View(fn)
	if errors.Is(err, store.ErrClosed) {
		return ErrClosed
	}
	return err
}

// KickOutbox wakes the outbox: something was queued.
func (c *Core) KickOutbox() { poke(c.kick) }

// KickExpiry wakes the expiry loop: a message may expire sooner.
func (c *Core) KickExpiry() { poke(c.expiryKick) }

// SetReceiver sets what handles each received envelope; the client package
// sets it once, before Run.
func (c *Core) SetReceiver(r Receiver) { c.recv = r }

// GroupInfo is what a group's messages show of it: its name, and whether
// the user's membership waits as a stranger's invitation (its messages then
// belong to a message request).
type GroupInfo struct {
	Name    string
	Request bool
	// Receipts: the user confirms the group's texts to their authors
	// (the group's receipts are on, and it is not a request).
	Receipts bool
}

// SetGroupInfo sets what tells a group's messages about their group, by the
// group's ID; the client package sets it once, before use.
func (c *Core) SetGroupInfo(f func(tx *store.Tx, group string) (GroupInfo, error)) { c.groupInfo = f }

// SetDevicesAdded sets what is done, in the transaction that accepts it,
// when another account's device list gains a device (package group sends
// that account the user's sender keys again).
func (c *Core) SetDevicesAdded(f func(tx *store.Tx, account string) error) { c.devsAdded = f }

// SetHandOff sets what is queued, in the transaction that takes it, when
// a newly linked device of the account asks for the groups.
func (c *Core) SetHandOff(f func(tx *store.Tx) error) { c.handOff = f }

// DeviceID returns this device's number.
func (c *Core) DeviceID() uint32 { return c.acct.DeviceID }

// Act runs fn in one store transaction with a batch for what it shows and
// queues, then announces the batch's events and wakes the outbox: the frame
// of every user action that changes state (a group change, say).
func (c *Core) Act(fn func(tx *store.Tx, b *Batch) error) error {
	var b *Batch
	err := c.Update(func(tx *store.Tx) error {
		b = NewBatch(c.Now())
		return fn(tx, b)
	})
	if err != nil {
		return err
	}
	c.AfterBatch(b)
	c.KickOutbox()
	c.Notify()
	return nil
}

// CheckPeers checks every ID as CheckPeer does, naming the bad one.
func (c *Core) CheckPeers(ids []string) error {
	for _, id := range ids {
		if err := c.CheckPeer(id); err != nil {
			return fmt.Errorf("%w (%q)", err, id)
		}
	}
	return nil
}

// Conn waits for the live, authenticated connection (Run must be running)
// until ctx is done: for a concern that asks the server something.
func (c *Core) Conn(ctx context.Context) (*conn.Conn, error) { return c.connected(ctx) }

// Inspection, for the client's tests of what reaches the disk: the device
// credential's seed and the own access key, and whether the server holds
// the access key's verifier.

// AuthSeed returns the seed of the device's authentication key.
func (c *Core) AuthSeed() []byte { return c.auth.Seed() }

// AccessUploaded reports whether the server has the verifier of the own
// access key.
func (c *Core) AccessUploaded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.accessUploaded
}

// Credential returns the device credential (the seed of its
// authentication key), as the store keeps it.
func (c *Core) Credential() []byte { return c.acct.Credential }
